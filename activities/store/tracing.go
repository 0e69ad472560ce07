package store

import (
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
	"gorm.io/gorm"
)

const spanKey = "tandem:span"

// UseTracer makes every statement a span, a child of the span in the
// statement's context (a request's, an activity's). The span carries the
// SQL with its placeholders, never the values, which can be personal.
func (s *Store) UseTracer(tracer trace.Tracer) error {
	start := func(op string) func(*gorm.DB) {
		return func(db *gorm.DB) {
			ctx, span := tracer.Start(db.Statement.Context, "db."+op, trace.WithSpanKind(trace.SpanKindClient),
				trace.WithAttributes(attribute.String("db.system.name", "postgresql"), attribute.String("db.collection.name", db.Statement.Table)))
			db.Statement.Context = ctx
			db.InstanceSet(spanKey, span)
		}
	}
	end := func(db *gorm.DB) {
		v, ok := db.InstanceGet(spanKey)
		if !ok {
			return
		}
		span := v.(trace.Span)
		span.SetAttributes(attribute.String("db.query.text", db.Statement.SQL.String()), attribute.Int64("db.rows", db.Statement.RowsAffected))
		if db.Error != nil && db.Error != gorm.ErrRecordNotFound {
			span.RecordError(db.Error)
			span.SetStatus(codes.Error, "statement failed")
		}
		span.End()
	}
	cb := s.db.Callback()
	for _, r := range []struct {
		op  string
		reg func() error
	}{
		{"query", func() error {
			return cb.Query().Before("gorm:query").Register("tandem:trace_before_query", start("query"))
		}},
		{"query", func() error { return cb.Query().After("gorm:query").Register("tandem:trace_after_query", end) }},
		{"create", func() error {
			return cb.Create().Before("gorm:create").Register("tandem:trace_before_create", start("insert"))
		}},
		{"create", func() error { return cb.Create().After("gorm:create").Register("tandem:trace_after_create", end) }},
		{"update", func() error {
			return cb.Update().Before("gorm:update").Register("tandem:trace_before_update", start("update"))
		}},
		{"update", func() error { return cb.Update().After("gorm:update").Register("tandem:trace_after_update", end) }},
		{"delete", func() error {
			return cb.Delete().Before("gorm:delete").Register("tandem:trace_before_delete", start("delete"))
		}},
		{"delete", func() error { return cb.Delete().After("gorm:delete").Register("tandem:trace_after_delete", end) }},
		{"raw", func() error { return cb.Raw().Before("gorm:raw").Register("tandem:trace_before_raw", start("exec")) }},
		{"raw", func() error { return cb.Raw().After("gorm:raw").Register("tandem:trace_after_raw", end) }},
		{"row", func() error { return cb.Row().Before("gorm:row").Register("tandem:trace_before_row", start("query")) }},
		{"row", func() error { return cb.Row().After("gorm:row").Register("tandem:trace_after_row", end) }},
	} {
		if err := r.reg(); err != nil {
			return err
		}
	}
	return nil
}
