package store

// The statements whose plans the tests check.
const (
	HeldWritesSQL  = heldWritesSQL
	EventsAfterSQL = eventsAfterSQL
)
