package thserver

// Stats are the helper's load figures, for its metrics and readiness.
type Stats struct {
	InFlight    int // requests being measured
	Waiting     int // requests queued for a measuring slot
	MaxInFlight int // the slot count (Config.MaxInFlight)
}

// Stats returns the figures now.
func (s *Server) Stats() Stats {
	return Stats{InFlight: len(s.sem), Waiting: int(s.waiting.Load()), MaxInFlight: cap(s.sem)}
}
