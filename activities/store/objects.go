package store

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/url"
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
}

// OpenObjects connects to the bucket, creating it if it does not exist.
func OpenObjects(ctx context.Context, cfg ObjectStoreConfig) (*Objects, error) {
	o, err := NewObjects(cfg)
	if err != nil {
		return nil, err
	}
	ok, err := o.client.BucketExists(ctx, cfg.Bucket)
	if err == nil && !ok {
		err = o.client.MakeBucket(ctx, cfg.Bucket, minio.MakeBucketOptions{Region: cfg.Region})
		if code := minio.ToErrorResponse(err).Code; code == "BucketAlreadyOwnedByYou" || code == "BucketAlreadyExists" {
			err = nil // made by another process meanwhile
		}
	}
	if err != nil {
		return nil, fmt.Errorf("object store bucket %s: %w", cfg.Bucket, err)
	}
	return o, nil
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
	return &Objects{client: client, bucket: cfg.Bucket}, nil
}

func objectName(tenantID, caseID, id string) string { return tenantID + "/" + caseID + "/" + id }

func caseObjects(tenantID, caseID string) string { return tenantID + "/" + caseID + "/" }

func (o *Objects) put(ctx context.Context, name string, data []byte) error {
	_, err := o.client.PutObject(ctx, o.bucket, name, bytes.NewReader(data), int64(len(data)),
		minio.PutObjectOptions{ContentType: "application/octet-stream", DisableMultipart: true})
	if err != nil {
		return fmt.Errorf("%w: put %s: %v", ErrObjectsUnavailable, name, err)
	}
	return nil
}

// get opens an object for reading; ErrNotFound when there is none.
func (o *Objects) get(ctx context.Context, name string) (io.ReadCloser, error) {
	obj, err := o.client.GetObject(ctx, o.bucket, name, minio.GetObjectOptions{})
	if err == nil {
		_, err = obj.Stat() // the request is made here, not by GetObject
	}
	if err != nil {
		if obj != nil {
			obj.Close()
		}
		if minio.ToErrorResponse(err).Code == minio.NoSuchKey {
			return nil, ErrNotFound
		}
		return nil, fmt.Errorf("%w: get %s: %v", ErrObjectsUnavailable, name, err)
	}
	return obj, nil
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

// doomObjects records, in the caller's transaction, that the objects under
// the prefixes (caseObjects, objectName) are to be deleted;
// DeleteDoomedObjects deletes them once it commits.
func (s *Store) doomObjects(ctx context.Context, tenantID string, prefixes ...string) error {
	if s.objects == nil || len(prefixes) == 0 {
		return nil
	}
	rows := make([]map[string]any, 0, len(prefixes))
	for _, p := range prefixes {
		rows = append(rows, map[string]any{"tenant_id": tenantID, "prefix": p, "created_at": time.Now().UTC()})
	}
	if err := s.db.WithContext(ctx).Table("object_deletions").Clauses(clause.OnConflict{DoNothing: true}).Create(rows).Error; err != nil {
		return fmt.Errorf("record objects to delete: %w", err)
	}
	s.doomed = true
	return nil
}

// DeleteDoomedObjects deletes the objects a committed purge or erasure
// left to delete, in the tenant ("" for all): after the transaction that
// doomed them, and on each retention run for any a crash left behind.
func (s *Store) DeleteDoomedObjects(ctx context.Context, tenantID string) error {
	if s.objects == nil {
		return nil
	}
	var rows []struct{ TenantID, Prefix string }
	q := s.db.WithContext(ctx).Table("object_deletions").Order("created_at").Limit(1000)
	if tenantID != "" {
		q = q.Where("tenant_id = ?", tenantID)
	}
	if err := q.Find(&rows).Error; err != nil {
		return fmt.Errorf("read objects to delete: %w", err)
	}
	for _, r := range rows {
		if err := s.objects.deletePrefix(ctx, r.Prefix); err != nil {
			return err
		}
		if err := s.db.WithContext(ctx).Exec(`DELETE FROM object_deletions WHERE tenant_id = ? AND prefix = ?`, r.TenantID, r.Prefix).Error; err != nil {
			return fmt.Errorf("record objects deleted: %w", err)
		}
	}
	return nil
}

// deleteDoomedAfterCommit runs after a transaction that doomed objects: a
// failure is logged, the rows stay, and the next retention run retries.
func (s *Store) deleteDoomedAfterCommit(ctx context.Context) {
	if err := s.DeleteDoomedObjects(ctx, ""); err != nil {
		slog.Warn("objects of a purge or erasure are left for the next retention run", "err", err)
	}
}
