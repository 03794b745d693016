package runner

import (
	"runtime/debug"
	"testing"
)

func TestVersionFromBuildInfo(t *testing.T) {
	vcs := func(rev, modified string) []debug.BuildSetting {
		return []debug.BuildSetting{{Key: "vcs", Value: "git"}, {Key: "vcs.revision", Value: rev}, {Key: "vcs.modified", Value: modified}}
	}
	const rev = "b5bf772aa1b2c3d4e5f60718293a4b5c6d7e8f90"
	cases := []struct {
		name string
		info *debug.BuildInfo
		ok   bool
		want string
	}{
		{"go install at a tag", &debug.BuildInfo{Main: debug.Module{Version: "v1.2.3"}}, true, "1.2.3"},
		{"go install at a tag, with VCS too", &debug.BuildInfo{Main: debug.Module{Version: "v1.2.3"}, Settings: vcs(rev, "false")}, true, "1.2.3"},
		{"checkout, clean", &debug.BuildInfo{Main: debug.Module{Version: "(devel)"}, Settings: vcs(rev, "false")}, true, "0.1.0-dev+b5bf772aa1b2"},
		{"checkout, modified", &debug.BuildInfo{Main: debug.Module{Version: "(devel)"}, Settings: vcs(rev, "true")}, true, "0.1.0-dev+b5bf772aa1b2.dirty"},
		{"pseudo-version", &debug.BuildInfo{Main: debug.Module{Version: "v0.0.0-20261204183000-b5bf772aa1b2"}, Settings: vcs(rev, "false")}, true, "0.1.0-dev+b5bf772aa1b2"},
		{"no VCS, no version", &debug.BuildInfo{Main: debug.Module{Version: "(devel)"}}, true, devVersion},
		{"no build info", nil, false, devVersion},
	}
	for _, c := range cases {
		if got := versionFromBuildInfo(c.info, c.ok); got != c.want {
			t.Errorf("%s: %q, want %q", c.name, got, c.want)
		}
	}
}
