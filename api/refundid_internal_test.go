package api

// KeyedRefundID lets the external tests name the refund a keyed request
// will ask for before asking (to leave a record in its place first).
var KeyedRefundID = keyedRefundID
