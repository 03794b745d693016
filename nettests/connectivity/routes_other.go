//go:build !windows && !darwin

package connectivity

// hostRoutes: Linux reads /proc/net/route (checkLink); other OSes have no reader.
var hostRoutes func() ([]Route, error)
