package netx

var osErrnos = windowsErrnos
