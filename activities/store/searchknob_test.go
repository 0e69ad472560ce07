package store

// SetSearchIndexing turns the search index's writes off and on, so that a
// benchmark can weigh the projection write without it in the same process.
func SetSearchIndexing(on bool) { searchIndexing = on }
