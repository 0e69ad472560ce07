package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"
	_ "time/tzdata" // service policies name time zones; the binary must not depend on the host's

	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/interceptor"
	tlog "go.temporal.io/sdk/log"

	"tandem/activities/objects"
	"tandem/activities/store"
	"tandem/workflows/codec"
)

// connect opens PostgreSQL (with the keyring) and dials Temporal.
func connect(ctx context.Context, cfg config, log *slog.Logger) (*store.Store, client.Client, error) {
	st, tc, _, err := connectWith(ctx, cfg, log, observe{})
	return st, tc, err
}

// observe is where the Temporal client's metrics and traces go (none: nowhere).
type observe struct {
	metrics      client.MetricsHandler
	interceptors []interceptor.ClientInterceptor
}

// connectWith is connect, observed, with the client's payload codec.
func connectWith(ctx context.Context, cfg config, log *slog.Logger, obs observe) (*store.Store, client.Client, *codec.Codec, error) {
	st, err := openStore(ctx, cfg)
	if err != nil {
		return nil, nil, nil, err
	}
	tc, pc, err := dialTemporal(ctx, cfg, log, st, obs)
	if err != nil {
		st.Close()
		return nil, nil, nil, err
	}
	return st, tc, pc, nil
}

// openStore opens PostgreSQL with the master keyring, which every command
// that reads or writes personal data needs.
func openStore(ctx context.Context, cfg config) (*store.Store, error) {
	kr, err := cfg.keyring()
	if err != nil {
		return nil, err
	}
	st, err := store.Open(ctx, cfg.DatabaseURL)
	if err != nil {
		return nil, err
	}
	st.UseKeyring(kr)
	if err := useObjects(ctx, cfg, st); err != nil {
		st.Close()
		return nil, err
	}
	return st, nil
}

// useObjects connects the store to the configured object store, if any,
// making its bucket if missing. A store that does not answer stops
// nothing: the process starts, attachments are 503 until it answers, and
// the bucket is made on the first upload.
func useObjects(ctx context.Context, cfg config, st *store.Store) error {
	if cfg.ObjectStoreURL == "" {
		return nil
	}
	objCfg := objects.Config{Endpoint: cfg.ObjectStoreURL, Bucket: cfg.ObjectBucket,
		Region: cfg.ObjectRegion, AccessKey: cfg.ObjectAccessKey, SecretKey: secret(cfg.ObjectSecretKey, cfg.ObjectSecretKeyFile)}
	octx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	bucket, err := objects.Open(octx, objCfg)
	if errors.Is(err, objects.ErrUnavailable) {
		slog.Warn("the object store does not answer; attachments are unavailable until it does", "url", cfg.ObjectStoreURL, "err", err)
		bucket, err = objects.New(objCfg)
	}
	if err != nil {
		return err
	}
	st.UseObjects(bucket)
	return nil
}

// dialTemporal connects with the encrypting payload codec: every client and
// worker of Tandem must, or history would mix clear and encrypted payloads.
// st gives the codec customers' data keys.
func dialTemporal(ctx context.Context, cfg config, log *slog.Logger, st *store.Store, obs observe) (client.Client, *codec.Codec, error) {
	pc, err := cfg.payloadCodec(st)
	if err != nil {
		return nil, nil, err
	}
	tc, err := client.DialContext(ctx, temporalOptions(cfg, log, obs, pc.DataConverter(), pc.FailureConverter()))
	if err != nil {
		return nil, nil, fmt.Errorf("connect to Temporal at %s: %w", cfg.TemporalAddress, err)
	}
	return tc, pc, nil
}

// workerClient shares tc's connection with the converters a worker needs
// (codec.Codec.WorkerDataConverter): a payload whose key cannot be read
// fails the workflow task instead of changing what a replay decides.
func workerClient(tc client.Client, pc *codec.Codec, cfg config, log *slog.Logger, obs observe) (client.Client, error) {
	wc, err := client.NewClientFromExisting(tc, temporalOptions(cfg, log, obs, pc.WorkerDataConverter(), pc.WorkerFailureConverter()))
	if err != nil {
		return nil, fmt.Errorf("worker's Temporal client: %w", err)
	}
	return wc, nil
}

func temporalOptions(cfg config, log *slog.Logger, obs observe, dc converter.DataConverter, fc converter.FailureConverter) client.Options {
	return client.Options{
		HostPort:         cfg.TemporalAddress,
		Namespace:        cfg.TemporalNamespace,
		Logger:           tlog.NewStructuredLogger(log.With("component", "temporal-sdk")),
		DataConverter:    dc,
		FailureConverter: fc,
		MetricsHandler:   obs.metrics,
		Interceptors:     obs.interceptors,
		// Payloads are AES-GCM ciphertext, which gzip cannot shrink: compressing
		// every request only spent CPU on both sides (about 8% of the worker's).
		ConnectionOptions: client.ConnectionOptions{GrpcCompression: &client.GrpcCompressionNone{}},
	}
}
