package main

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"

	"tandem/workflows/codec"
)

func TestCodecEndpointRoundTripAndCORS(t *testing.T) {
	cfg := config{PayloadKeys: []codec.Key{{ID: "k", Key: bytes.Repeat([]byte{7}, 32)}}, settings: settings{CodecOrigin: "http://127.0.0.1:8233"}}
	h, err := codecHandler(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	defer srv.Close()

	pre, _ := http.NewRequest(http.MethodOptions, srv.URL+"/decode", nil)
	resp, err := http.DefaultClient.Do(pre)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.Header.Get("Access-Control-Allow-Origin") != cfg.CodecOrigin {
		t.Fatalf("CORS origin %q", resp.Header.Get("Access-Control-Allow-Origin"))
	}

	plain := `{"payloads":[{"metadata":{"encoding":"` + base64.StdEncoding.EncodeToString([]byte("json/plain")) + `"},"data":"` +
		base64.StdEncoding.EncodeToString([]byte(`"a customer's words"`)) + `"}]}`
	post := func(path, body string) []byte {
		resp, err := http.Post(srv.URL+path, "application/json", bytes.NewBufferString(body))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var buf bytes.Buffer
		buf.ReadFrom(resp.Body)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("%s: %d %s", path, resp.StatusCode, buf.String())
		}
		return buf.Bytes()
	}
	enc := post("/encode", plain)
	if bytes.Contains(enc, []byte(base64.StdEncoding.EncodeToString([]byte(`"a customer's words"`)))) {
		t.Fatal("encode left the data in clear")
	}
	dec := post("/decode", string(enc))
	var a, b any
	json.Unmarshal(dec, &a)
	json.Unmarshal([]byte(plain), &b)
	if ja, _ := json.Marshal(a); string(ja) != func() string { jb, _ := json.Marshal(b); return string(jb) }() {
		t.Fatalf("round trip: %s != %s", dec, plain)
	}
}
