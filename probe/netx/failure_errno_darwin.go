//go:build darwin

package netx

var osErrnos = darwinErrnos
