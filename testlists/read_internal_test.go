package testlists

import "hash/maphash"

func maphash64(s *URLSet, v string) uint64 { return maphash.String(s.seed, v) }
