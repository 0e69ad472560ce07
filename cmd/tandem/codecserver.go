package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"go.temporal.io/sdk/converter"

	"tandem/workflows/codec"
)

// codecHandler decodes payloads for the Temporal Web UI (and encodes them for
// its "start workflow" form), so people with access to the UI can read case
// histories that are encrypted at rest. Bind it to a private address: anyone
// who can reach it can decrypt, an erased customer's payloads excepted.
func codecHandler(cfg config, keys codec.Keys) (http.Handler, error) {
	pc, err := cfg.payloadCodec(keys)
	if err != nil {
		return nil, err
	}
	inner := converter.NewPayloadCodecHTTPHandler(pc)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Access-Control-Allow-Origin", cfg.CodecOrigin)
		w.Header().Set("Access-Control-Allow-Credentials", "true")
		w.Header().Set("Access-Control-Allow-Headers", "Content-Type, X-Namespace, Authorization")
		w.Header().Set("Access-Control-Allow-Methods", "POST, OPTIONS")
		if r.Method == http.MethodOptions {
			w.WriteHeader(http.StatusNoContent)
			return
		}
		inner.ServeHTTP(w, r)
	}), nil
}

func startCodecServer(cfg config, keys codec.Keys, log *slog.Logger, errc chan<- error) (*http.Server, error) {
	h, err := codecHandler(cfg, keys)
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", cfg.CodecAddr)
	if err != nil {
		return nil, fmt.Errorf("codec endpoint: listen on %s: %w", cfg.CodecAddr, err)
	}
	srv := &http.Server{Addr: cfg.CodecAddr, Handler: h, ReadHeaderTimeout: 10 * time.Second}
	log.Info("codec endpoint for the Temporal Web UI", "addr", "http://"+ln.Addr().String(), "origin", cfg.CodecOrigin)
	go func() { errc <- srv.Serve(ln) }()
	return srv, nil
}

func runCodecServer(ctx context.Context, cfg config, log *slog.Logger) error {
	if cfg.CodecAddr == "" {
		return errors.New("codec-server: set TANDEM_CODEC_ADDR, e.g. 127.0.0.1:8234")
	}
	st, err := openStore(ctx, cfg)
	if err != nil {
		return err
	}
	defer st.Close()
	errc := make(chan error, 1)
	srv, err := startCodecServer(cfg, st, log, errc)
	if err != nil {
		return err
	}
	select {
	case <-ctx.Done():
	case err := <-errc:
		return err
	}
	sctx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownTimeout)
	defer cancel()
	return srv.Shutdown(sctx)
}
