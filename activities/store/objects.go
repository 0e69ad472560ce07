package store

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"strings"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
	"gorm.io/gorm/clause"
)

// ErrObjectsUnavailable wraps an object store's failure to answer: the
// caller may retry (a 503 at the API).
var ErrObjectsUnavailable = errors.New("object store unavailable")

// ObjectStoreConfig names an S3-compatible bucket.
type ObjectStoreConfig struct {
	Endpoint  string // http(s)://host:port
	Bucket    string
	AccessKey string
	SecretKey string
	Region    string
}

// Objects is an S3-compatible bucket holding attachments' sealed bytes,
// each named <tenant>/<case>/<attachment>, so that a case's files, even
// one whose row never committed, can be deleted by their prefix.
type Objects struct {
	client *minio.Client
	bucket string
	region string
}

// OpenObjects connects to the bucket, creating it if it does not exist.
func OpenObjects(ctx context.Context, cfg ObjectStoreConfig) (*Objects, error) {
	o, err := NewObjects(cfg)
	if err != nil {
		return nil, err
	}
	if err := o.ensureBucket(ctx); err != nil {
		return nil, err
	}
	return o, nil
}

func (o *Objects) ensureBucket(ctx context.Context) error {
	ok, err := o.client.BucketExists(ctx, o.bucket)
	if err == nil && !ok {
		err = o.client.MakeBucket(ctx, o.bucket, minio.MakeBucketOptions{Region: o.region})
		if code := minio.ToErrorResponse(err).Code; code == "BucketAlreadyOwnedByYou" || code == "BucketAlreadyExists" {
			err = nil // made by another process meanwhile
		}
	}
	if err != nil {
		return fmt.Errorf("%w: bucket %s: %v", ErrObjectsUnavailable, o.bucket, err)
	}
	return nil
}

// NewObjects is a client of the bucket; it makes no request.
func NewObjects(cfg ObjectStoreConfig) (*Objects, error) {
	u, err := url.Parse(cfg.Endpoint)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("object store endpoint %q: want http(s)://host:port", cfg.Endpoint)
	}
	if cfg.Bucket == "" {
		return nil, errors.New("object store: no bucket named")
	}
	client, err := minio.New(u.Host, &minio.Options{
		Creds:        credentials.NewStaticV4(cfg.AccessKey, cfg.SecretKey, ""),
		Secure:       u.Scheme == "https",
		Region:       cfg.Region,
		BucketLookup: minio.BucketLookupPath,
		// A store that is down is a 503 for the client to retry, at once,
		// not a request held while the library retries ten times.
		MaxRetries: 2,
	})
	if err != nil {
		return nil, fmt.Errorf("object store: %w", err)
	}
	return &Objects{client: client, bucket: cfg.Bucket, region: cfg.Region}, nil
}

func objectName(tenantID, caseID, id string) string { return tenantID + "/" + caseID + "/" + id }

func caseObjects(tenantID, caseID string) string { return tenantID + "/" + caseID + "/" }

// putFor bounds one upload's put: it runs inside the upload's transaction,
// holding a connection, so a store that hangs must not hold it long.
const putFor = 10 * time.Second

func (o *Objects) put(ctx context.Context, name string, data []byte) error {
	ctx, cancel := context.WithTimeout(ctx, putFor)
	defer cancel()
	put := func() error {
		_, err := o.client.PutObject(ctx, o.bucket, name, bytes.NewReader(data), int64(len(data)),
			minio.PutObjectOptions{ContentType: "application/octet-stream", DisableMultipart: true})
		return err
	}
	err := put()
	if minio.ToErrorResponse(err).Code == minio.NoSuchBucket { // the store was down when the process started
		if err = o.ensureBucket(ctx); err == nil {
			err = put()
		}
	}
	if err != nil {
		return fmt.Errorf("%w: put %s: %v", ErrObjectsUnavailable, name, err)
	}
	return nil
}

// streamFor bounds reading one object once it is found: long enough for
// a 10 MiB file to reach a slow client, not forever for a stalled store.
const streamFor = 10 * time.Minute

// get opens an object for reading; ErrNotFound when there is none. Finding
// it is bound by ctx; reading it, by streamFor from then, so a request's
// deadline does not cut a download short.
func (o *Objects) get(ctx context.Context, name string) (io.ReadCloser, error) {
	if _, err := o.client.StatObject(ctx, o.bucket, name, minio.StatObjectOptions{}); err != nil {
		if minio.ToErrorResponse(err).Code == minio.NoSuchKey {
			return nil, ErrNotFound
		}
		return nil, fmt.Errorf("%w: get %s: %v", ErrObjectsUnavailable, name, err)
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), streamFor)
	obj, err := o.client.GetObject(sctx, o.bucket, name, minio.GetObjectOptions{})
	if err != nil {
		cancel()
		return nil, fmt.Errorf("%w: get %s: %v", ErrObjectsUnavailable, name, err)
	}
	return cancelOnClose{obj, cancel}, nil
}

type cancelOnClose struct {
	io.ReadCloser
	cancel context.CancelFunc
}

func (c cancelOnClose) Close() error {
	defer c.cancel()
	return c.ReadCloser.Close()
}

// deletePrefix deletes every object whose name starts with prefix.
func (o *Objects) deletePrefix(ctx context.Context, prefix string) error {
	for info := range o.client.ListObjects(ctx, o.bucket, minio.ListObjectsOptions{Prefix: prefix, Recursive: true}) {
		if info.Err != nil {
			return fmt.Errorf("%w: list %s: %v", ErrObjectsUnavailable, prefix, info.Err)
		}
		if err := o.client.RemoveObject(ctx, o.bucket, info.Key, minio.RemoveObjectOptions{}); err != nil {
			return fmt.Errorf("%w: delete %s: %v", ErrObjectsUnavailable, info.Key, err)
		}
	}
	return nil
}

// UseObjects keeps new attachments' bytes in the bucket rather than in
// PostgreSQL; those kept there before are read from there still.
func (s *Store) UseObjects(o *Objects) { s.objects = o }

// doomedPrefix is a prefix of object names a transaction recorded to delete.
type doomedPrefix struct{ TenantID, Prefix string }

// doomObjects records, in the caller's transaction, that the objects under
// the prefixes (caseObjects, objectName) are to be deleted; they are
// deleted once it commits, or by the next retention run. Without an object
// store configured here, it records them only if rows say files were put in
// one (a setting since removed, or another process's): a configured
// process deletes them.
func (s *Store) doomObjects(ctx context.Context, tenantID string, prefixes ...string) error {
	if len(prefixes) == 0 {
		return nil
	}
	db := s.db.WithContext(ctx)
	if s.objects == nil {
		cases := make([]string, len(prefixes)) // each prefix is of one case
		for i, p := range prefixes {
			t, rest, _ := strings.Cut(p, "/")
			c, _, _ := strings.Cut(rest, "/")
			cases[i] = caseObjects(t, c)
		}
		var stored bool
		if err := db.Raw(`SELECT EXISTS (SELECT 1 FROM attachments WHERE tenant_id = ? AND stored_in = 'objects'
			AND tenant_id || '/' || case_id || '/' IN ?)`, tenantID, cases).Scan(&stored).Error; err != nil {
			return fmt.Errorf("look for stored objects: %w", err)
		}
		if !stored {
			return nil
		}
	}
	rows := make([]map[string]any, 0, len(prefixes))
	for _, p := range prefixes {
		rows = append(rows, map[string]any{"tenant_id": tenantID, "prefix": p, "created_at": time.Now().UTC()})
		s.doomed = append(s.doomed, doomedPrefix{tenantID, p})
	}
	if err := db.Table("object_deletions").Clauses(clause.OnConflict{DoNothing: true}).Create(rows).Error; err != nil {
		return fmt.Errorf("record objects to delete: %w", err)
	}
	return nil
}

// DeleteDoomedObjects deletes the objects that purges, erasures and
// expiries recorded and could not delete when they committed (the store
// down, a crash): the retention run's job. A prefix that fails is left for
// the next run and does not hold up the others; the first failure is
// returned.
func (s *Store) DeleteDoomedObjects(ctx context.Context) error {
	if s.objects == nil {
		return nil
	}
	var rows []doomedPrefix
	if err := s.db.WithContext(ctx).Table("object_deletions").Order("created_at").Limit(1000).Find(&rows).Error; err != nil {
		return fmt.Errorf("read objects to delete: %w", err)
	}
	return s.deleteDoomed(ctx, rows)
}

func (s *Store) deleteDoomed(ctx context.Context, rows []doomedPrefix) error {
	var first error
	for _, r := range rows {
		err := s.objects.deletePrefix(ctx, r.Prefix)
		if err == nil {
			err = s.db.WithContext(ctx).Exec(`DELETE FROM object_deletions WHERE tenant_id = ? AND prefix = ?`, r.TenantID, r.Prefix).Error
		}
		if err != nil && first == nil {
			first = fmt.Errorf("delete objects %s: %w", r.Prefix, err)
		}
	}
	return first
}

// deleteAfterCommit deletes what a committed transaction doomed, for at
// most a few seconds and whatever becomes of the caller's request: a
// failure is logged, the rows stay, and the next retention run retries.
func (s *Store) deleteAfterCommit(ctx context.Context, doomed []doomedPrefix) {
	if s.objects == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err := s.deleteDoomed(ctx, doomed); err != nil {
		slog.Warn("objects of a purge, erasure or expiry are left for the next retention run", "err", err)
	}
}
