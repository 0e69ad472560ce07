package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"tandem/activities/store/storetest"
)

// devProcess is `tandem dev` running as a real process.
type devProcess struct {
	cmd  *exec.Cmd
	addr string
	log  *bytes.Buffer
}

// fixture is what a test of the real binary needs: its own database with the
// demo tenant and a service key, the binary, and an environment with a task
// queue of its own.
type fixture struct {
	db     *storetest.DB
	apiKey string
	bin    string
	env    []string
	id     string // random, for names that must not clash across runs
}

func newFixture(t *testing.T) fixture {
	t.Helper()
	db := storetest.New(t)
	if err := db.EnsureTenant(context.Background(), demoTenant, "Demo"); err != nil {
		t.Fatal(err)
	}
	apiKey, _, err := db.CreateAPIKey(context.Background(), demoTenant, "test", "service")
	if err != nil {
		t.Fatal(err)
	}
	id := make([]byte, 6)
	_, _ = rand.Read(id)
	f := fixture{db: db, apiKey: apiKey, bin: buildBinary(t), id: hex.EncodeToString(id)}
	f.env = []string{"DATABASE_URL=" + db.AppURL, "TANDEM_TASK_QUEUE=test-" + f.id}
	return f
}

func buildBinary(t *testing.T) string {
	t.Helper()
	storetest.SkipShort(t)
	bin := filepath.Join(t.TempDir(), "tandem")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	return bin
}

func startDev(t *testing.T, bin string, env []string, addr string) *devProcess {
	t.Helper()
	p := &devProcess{cmd: exec.Command(bin, "dev"), addr: addr, log: &bytes.Buffer{}}
	master := storetest.TestMasterKey.ID + ":" + base64.StdEncoding.EncodeToString(storetest.TestMasterKey.Key)
	payload := "test:" + base64.StdEncoding.EncodeToString([]byte("test-only-payload-key-32-bytes!!"))
	p.cmd.Env = append(os.Environ(), append(env, "TANDEM_HTTP_ADDR="+addr, "TANDEM_MASTER_KEY="+master, "TANDEM_PAYLOAD_KEY="+payload)...)
	p.cmd.Stdout, p.cmd.Stderr = p.log, p.log
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		resp, err := http.Get("http://" + addr + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return p
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	p.cmd.Process.Kill()
	t.Fatalf("tandem dev did not become ready:\n%s", p.log)
	return nil
}

// freeAddr is a free 127.0.0.1 address for a server a test starts, and may
// kill and start again on the same address. Its port lies below the
// kernel's ephemeral range (32768 and up here), so that while the server
// is down no outgoing connection can be handed the port and keep it from
// binding again; ports already given out in this process are not given
// twice.
func freeAddr(t *testing.T) string {
	t.Helper()
	given.Lock()
	defer given.Unlock()
	for range 500 {
		p := 20000 + randInt(12000)
		if given.ports[p] {
			continue
		}
		if ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", p)); err == nil {
			ln.Close()
			given.ports[p] = true
			return ln.Addr().String()
		}
	}
	t.Fatal("no free port from 20000 to 31999")
	return ""
}

var given = struct {
	sync.Mutex
	ports map[int]bool
}{ports: map[int]bool{}}

type openResult struct {
	status int
	caseID string
}

func openWithKey(addr, apiKey, key string) openResult {
	body := `{"customer_ref":"crash-test","channel":"api","message":"is my case safe?"}`
	req, _ := http.NewRequest("POST", "http://"+addr+"/v1/cases", bytes.NewBufferString(body))
	req.Header.Set("Authorization", "Bearer "+apiKey)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Idempotency-Key", key)
	c := &http.Client{Timeout: 20 * time.Second}
	resp, err := c.Do(req)
	if err != nil {
		return openResult{}
	}
	defer resp.Body.Close()
	var out struct {
		Case struct{ ID string } `json:"case"`
	}
	_ = json.NewDecoder(resp.Body).Decode(&out)
	return openResult{status: resp.StatusCode, caseID: out.Case.ID}
}

// Killing `tandem dev` in the middle of a burst of case openings loses no
// acknowledged case, and retrying every request after the restart yields
// exactly one case per Idempotency-Key.
func TestKillAndRestartLosesNoCase(t *testing.T) {
	f := newFixture(t)
	st, apiKey, bin := f.db, f.apiKey, f.bin
	env := append(f.env, "TANDEM_LOG_LEVEL=warn")
	addr := freeAddr(t)

	p := startDev(t, bin, env, addr)
	const n = 40
	keys := make([]string, n)
	for i := range keys {
		keys[i] = fmt.Sprintf("crash-%s-%d", f.id, i)
	}
	before := make([]openResult, n)
	acks := make(chan struct{}, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			time.Sleep(time.Duration(i) * 10 * time.Millisecond)
			before[i] = openWithKey(addr, apiKey, keys[i])
			if before[i].status == http.StatusCreated {
				acks <- struct{}{}
			}
		}()
	}
	for range 5 { // kill mid-way: some cases acknowledged, others in flight or not yet sent
		select {
		case <-acks:
		case <-time.After(20 * time.Second):
			t.Fatalf("no acknowledgements before the kill\n%s", p.log)
		}
	}
	if err := p.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = p.cmd.Wait()
	wg.Wait()

	acked := 0
	for _, r := range before {
		if r.status == http.StatusCreated || r.status == http.StatusOK {
			acked++
		}
	}
	t.Logf("%d of %d openings were acknowledged before the kill", acked, n)
	if acked == n {
		t.Fatal("every opening finished before the kill: the test did not test a crash")
	}

	p = startDev(t, bin, env, addr)
	defer func() {
		_ = p.cmd.Process.Signal(syscall.SIGTERM)
		_ = p.cmd.Wait()
	}()
	for i, key := range keys {
		after := openWithKey(addr, apiKey, key)
		if after.status != http.StatusCreated && after.status != http.StatusOK {
			t.Fatalf("retry of %s after restart: status %d\n%s", key, after.status, p.log)
		}
		if b := before[i]; (b.status == http.StatusCreated || b.status == http.StatusOK) && b.caseID != after.caseID {
			t.Fatalf("acknowledged case %s came back as %s", b.caseID, after.caseID)
		}
	}
	var cases, messages int
	db := st.DB()
	if err := db.Raw("SELECT count(*) FROM cases WHERE tenant_id = 'demo'").Scan(&cases).Error; err != nil {
		t.Fatal(err)
	}
	if err := db.Raw("SELECT count(*) FROM messages WHERE tenant_id = 'demo'").Scan(&messages).Error; err != nil {
		t.Fatal(err)
	}
	if cases != n || messages != 2*n {
		t.Fatalf("%d cases and %d messages after restart and retries; want %d and %d", cases, messages, n, 2*n)
	}
}

// SIGTERM drains the API and stops the worker; the process exits cleanly.
func TestGracefulShutdown(t *testing.T) {
	f := newFixture(t)
	p := startDev(t, f.bin, f.env, freeAddr(t))
	if r := openWithKey(p.addr, f.apiKey, "term-"+f.id); r.status != http.StatusCreated {
		t.Fatalf("open: %d", r.status)
	}
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- p.cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("exit after SIGTERM: %v\n%s", err, p.log)
		}
	case <-time.After(30 * time.Second):
		p.cmd.Process.Kill()
		t.Fatalf("no exit 30 s after SIGTERM\n%s", p.log)
	}
	for _, want := range []string{"shutting down", "stopped"} {
		if !bytes.Contains(p.log.Bytes(), []byte(want)) {
			t.Errorf("log lacks %q:\n%s", want, p.log)
		}
	}
	// Neither secrets nor personal data reach the log: not the database
	// password, not the master key, not what the customer wrote.
	for _, secret := range []string{"tandem-app-dev-only", base64.StdEncoding.EncodeToString(storetest.TestMasterKey.Key),
		"is my case safe?", "crash-test"} {
		if bytes.Contains(p.log.Bytes(), []byte(secret)) {
			t.Errorf("the log shows a secret:\n%s", p.log)
		}
	}
}

// The worker listens for webhook deliveries on a connection of its own,
// says so on /metrics, and listens again when that connection is cut.
func TestWorkerListensForWebhookDeliveries(t *testing.T) {
	f := newFixture(t)
	metricsAddr := freeAddr(t)
	p := startDev(t, f.bin, append(f.env, "TANDEM_METRICS_ADDR="+metricsAddr), freeAddr(t))
	t.Cleanup(func() {
		_ = p.cmd.Process.Signal(syscall.SIGTERM)
		_ = p.cmd.Wait()
	})
	listener := func() (pid int) {
		t.Helper()
		err := f.db.DB().Raw(`SELECT coalesce(max(pid), 0) FROM pg_stat_activity
			WHERE datname = current_database() AND query = 'LISTEN tandem_webhook_due'`).Scan(&pid).Error
		if err != nil {
			t.Fatal(err)
		}
		return pid
	}
	gauge := func() string {
		resp, err := http.Get("http://" + metricsAddr + "/metrics")
		if err != nil {
			return ""
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		for line := range strings.SplitSeq(string(body), "\n") {
			if v, ok := strings.CutPrefix(line, "tandem_webhook_notifications_listening "); ok {
				return v
			}
		}
		return ""
	}
	await := func(what string, ok func() bool) {
		t.Helper()
		for deadline := time.Now().Add(30 * time.Second); !ok(); time.Sleep(50 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("%s: not within 30 s (gauge %q)", what, gauge())
			}
		}
	}
	await("listening", func() bool { return listener() != 0 && gauge() == "1" })
	first := listener()
	if err := f.db.DB().Exec(`SELECT pg_terminate_backend(?)`, first).Error; err != nil {
		t.Fatal(err)
	}
	await("listening again on a new connection", func() bool { pid := listener(); return pid != 0 && pid != first && gauge() == "1" })
}
