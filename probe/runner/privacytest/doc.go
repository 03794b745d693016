// Package privacytest holds the end-to-end privacy test of a probe run: a control
// helper tells the probe its public address, a web server echoes it in a body and a
// header, and no byte the probe stores, signs or uploads may carry it. The package
// has no code of its own, only that test.
package privacytest
