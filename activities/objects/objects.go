// Package objects is an S3-compatible bucket that keeps attachments' sealed
// bytes, named <tenant>/<case>/<attachment> so that a case's files can be
// deleted by their prefix. A bucket that does not answer is ErrUnavailable,
// which callers may retry (a 503 at the API).
package objects

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
)

// ErrUnavailable wraps an object store's failure to answer: the
// caller may retry (a 503 at the API).
var ErrUnavailable = errors.New("object store unavailable")

// ErrNotFound: no object has the name.
var ErrNotFound = errors.New("object not found")

// Config names an S3-compatible bucket.
type Config struct {
	Endpoint  string // http(s)://host:port
	Bucket    string
	AccessKey string
	SecretKey string
	Region    string
}

// Bucket is a client of one bucket.
type Bucket struct {
	client *minio.Client
	bucket string
	region string
}

// Open connects to the bucket, creating it if it does not exist.
func Open(ctx context.Context, cfg Config) (*Bucket, error) {
	o, err := New(cfg)
	if err != nil {
		return nil, err
	}
	if err := o.ensureBucket(ctx); err != nil {
		return nil, err
	}
	return o, nil
}

func (o *Bucket) ensureBucket(ctx context.Context) error {
	ok, err := o.client.BucketExists(ctx, o.bucket)
	if err == nil && !ok {
		err = o.client.MakeBucket(ctx, o.bucket, minio.MakeBucketOptions{Region: o.region})
		if code := minio.ToErrorResponse(err).Code; code == "BucketAlreadyOwnedByYou" || code == "BucketAlreadyExists" {
			err = nil // made by another process meanwhile
		}
	}
	if err != nil {
		return fmt.Errorf("%w: bucket %s: %v", ErrUnavailable, o.bucket, err)
	}
	return nil
}

// New is a client of the bucket; it makes no request.
func New(cfg Config) (*Bucket, error) {
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
	return &Bucket{client: client, bucket: cfg.Bucket, region: cfg.Region}, nil
}

// Name is where an attachment's bytes are kept.
func Name(tenantID, caseID, id string) string { return tenantID + "/" + caseID + "/" + id }

// CasePrefix names every object of a case.
func CasePrefix(tenantID, caseID string) string { return tenantID + "/" + caseID + "/" }

// putFor bounds one upload's put: it runs inside the upload's transaction,
// holding a connection, so a store that hangs must not hold it long.
const putFor = 10 * time.Second

// Put stores data under name, within putFor.
func (o *Bucket) Put(ctx context.Context, name string, data []byte) error {
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
		return fmt.Errorf("%w: put %s: %v", ErrUnavailable, name, err)
	}
	return nil
}

// streamFor bounds reading one object once it is found: long enough for
// a 10 MiB file to reach a slow client, not forever for a stalled store.
const streamFor = 10 * time.Minute

// Get opens an object for reading; ErrNotFound when there is none. Finding
// it is bound by ctx; reading it, by streamFor from then, so a request's
// deadline does not cut a download short.
func (o *Bucket) Get(ctx context.Context, name string) (io.ReadCloser, error) {
	if _, err := o.client.StatObject(ctx, o.bucket, name, minio.StatObjectOptions{}); err != nil {
		if minio.ToErrorResponse(err).Code == minio.NoSuchKey {
			return nil, ErrNotFound
		}
		return nil, fmt.Errorf("%w: get %s: %v", ErrUnavailable, name, err)
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), streamFor)
	obj, err := o.client.GetObject(sctx, o.bucket, name, minio.GetObjectOptions{})
	if err != nil {
		cancel()
		return nil, fmt.Errorf("%w: get %s: %v", ErrUnavailable, name, err)
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

// DeletePrefix deletes every object whose name starts with prefix.
func (o *Bucket) DeletePrefix(ctx context.Context, prefix string) error {
	for info := range o.client.ListObjects(ctx, o.bucket, minio.ListObjectsOptions{Prefix: prefix, Recursive: true}) {
		if info.Err != nil {
			return fmt.Errorf("%w: list %s: %v", ErrUnavailable, prefix, info.Err)
		}
		if err := o.client.RemoveObject(ctx, o.bucket, info.Key, minio.RemoveObjectOptions{}); err != nil {
			return fmt.Errorf("%w: delete %s: %v", ErrUnavailable, info.Key, err)
		}
	}
	return nil
}
