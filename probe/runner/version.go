package runner

import (
	"runtime/debug"
	"strings"
)

// devVersion is SoftwareVersion when the build set none with -ldflags -X.
const devVersion = "0.1.0-dev"

func init() {
	if SoftwareVersion == devVersion {
		info, ok := debug.ReadBuildInfo()
		SoftwareVersion = versionFromBuildInfo(info, ok)
	}
}

// versionFromBuildInfo names a build that no -ldflags named: `go install
// module@v1.2.3` records v1.2.3 as the main module's version; a build in a
// checkout records "(devel)" or a pseudo-version, and the VCS revision, which
// then follows devVersion.
func versionFromBuildInfo(info *debug.BuildInfo, ok bool) string {
	if !ok || info == nil {
		return devVersion
	}
	if v := info.Main.Version; v != "" && v != "(devel)" && !strings.HasPrefix(v, "v0.0.0-") {
		return strings.TrimPrefix(v, "v")
	}
	var rev string
	var dirty bool
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			dirty = s.Value == "true"
		}
	}
	if rev == "" {
		return devVersion
	}
	if len(rev) > 12 {
		rev = rev[:12]
	}
	v := devVersion + "+" + rev
	if dirty {
		v += ".dirty"
	}
	return v
}
