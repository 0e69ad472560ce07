package storetest

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"tandem/activities/objects"
	"tandem/activities/store"
)

// WeedVersion is the SeaweedFS release the tests run as their S3-compatible
// object store; .ci/stack.sh builds its `weed` binary from the Go module
// at this version into $(go env GOPATH)/bin/weed-<version>.
const WeedVersion = "v0.0.0-20261109003541-7506e5f91cd6"

// Test-only credentials of the object store the tests start.
const (
	objectsAccessKey = "tandem-test"
	objectsSecretKey = "tandem-test-secret-dev-only"
)

// ObjectStore is a SeaweedFS server a test package started: master, volume,
// filer and S3 gateway in one process of its own, on free ports, its data
// in a directory of its own.
type ObjectStore struct {
	Endpoint string // http://127.0.0.1:port of the S3 gateway
	cmd      *exec.Cmd
	dir      string
}

var (
	objectsOnce sync.Once
	objectStore *ObjectStore
	objectsErr  error
)

// Objects returns the package's SeaweedFS server, starting it on first use;
// StopObjects, from TestMain, stops it. It fails the test (never skips)
// when the binary is missing: `make test` builds it.
func Objects(t testing.TB) *ObjectStore {
	t.Helper()
	SkipShort(t)
	objectsOnce.Do(func() { objectStore, objectsErr = startObjects() })
	if objectsErr != nil {
		t.Fatalf("start SeaweedFS (run the tests with `make test`, which builds it): %v", objectsErr)
	}
	return objectStore
}

// StopObjects stops the package's SeaweedFS server, if it started one.
func StopObjects() {
	if objectStore != nil {
		objectStore.stop()
	}
}

// Open connects st to a fresh bucket of the server, for one test, and
// returns the bucket's configuration.
func (o *ObjectStore) Open(t testing.TB, st *store.Store) objects.Config {
	t.Helper()
	cfg := objects.Config{Endpoint: o.Endpoint, Bucket: "test-" + randomName(t), AccessKey: objectsAccessKey,
		SecretKey: objectsSecretKey, Region: "us-east-1"}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	objs, err := objects.Open(ctx, cfg)
	if err != nil {
		t.Fatalf("open bucket: %v", err)
	}
	st.UseObjects(objs)
	return cfg
}

// client is a plain S3 client of the server, for tests that read or
// change a bucket behind Tandem's back.
func (o *ObjectStore) client(t testing.TB) *minio.Client {
	t.Helper()
	c, err := minio.New(strings.TrimPrefix(o.Endpoint, "http://"), &minio.Options{
		Creds: credentials.NewStaticV4(objectsAccessKey, objectsSecretKey, ""), Region: "us-east-1", BucketLookup: minio.BucketLookupPath})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// Names lists the bucket's object names.
func (o *ObjectStore) Names(t testing.TB, bucket string) []string {
	t.Helper()
	var names []string
	for info := range o.client(t).ListObjects(context.Background(), bucket, minio.ListObjectsOptions{Recursive: true}) {
		if info.Err != nil {
			t.Fatalf("list %s: %v", bucket, info.Err)
		}
		names = append(names, info.Key)
	}
	return names
}

// Bytes reads an object as it is stored.
func (o *ObjectStore) Bytes(t testing.TB, bucket, name string) []byte {
	t.Helper()
	obj, err := o.client(t).GetObject(context.Background(), bucket, name, minio.GetObjectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer obj.Close()
	b, err := io.ReadAll(obj)
	if err != nil {
		t.Fatalf("read %s: %v", name, err)
	}
	return b
}

// Put writes an object, as someone with the bucket's keys could.
func (o *ObjectStore) Put(t testing.TB, bucket, name string, data []byte) {
	t.Helper()
	if _, err := o.client(t).PutObject(context.Background(), bucket, name, bytes.NewReader(data), int64(len(data)), minio.PutObjectOptions{}); err != nil {
		t.Fatal(err)
	}
}

func weedBinary() (string, error) {
	if bin := os.Getenv("TANDEM_WEED_BIN"); bin != "" {
		return bin, nil
	}
	gopath, err := exec.Command("go", "env", "GOPATH").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOPATH: %w", err)
	}
	bin := filepath.Join(string(bytes.TrimSpace(gopath)), "bin", "weed-"+WeedVersion)
	if _, err := os.Stat(bin); err != nil {
		return "", fmt.Errorf("no SeaweedFS binary at %s, and TANDEM_WEED_BIN is unset", bin)
	}
	return bin, nil
}

func startObjects() (*ObjectStore, error) {
	bin, err := weedBinary()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "tandem-weed-")
	if err != nil {
		return nil, err
	}
	identities := `{"identities":[{"name":"tandem","credentials":[{"accessKey":"` + objectsAccessKey + `","secretKey":"` +
		objectsSecretKey + `"}],"actions":["Admin","Read","Write","List","Tagging"]}]}`
	if err := os.WriteFile(filepath.Join(dir, "s3.json"), []byte(identities), 0o600); err != nil {
		return nil, err
	}
	ports, err := freePorts(8)
	if err != nil {
		return nil, err
	}
	args := []string{"server", "-dir=" + dir, "-ip=127.0.0.1", "-ip.bind=127.0.0.1",
		"-master.volumeSizeLimitMB=16", "-volume.max=0", "-filer", "-s3", "-s3.config=" + filepath.Join(dir, "s3.json"),
		"-s3.port.iceberg=0", "-s3.port.lance=0"}
	for i, name := range []string{"master", "volume", "filer", "s3"} {
		args = append(args, "-"+name+".port="+strconv.Itoa(ports[2*i]), "-"+name+".port.grpc="+strconv.Itoa(ports[2*i+1]))
	}
	cmd := exec.Command(bin, args...)
	logFile, err := os.Create(filepath.Join(dir, "weed.log"))
	if err != nil {
		return nil, err
	}
	cmd.Stdout, cmd.Stderr, cmd.Dir = logFile, logFile, dir
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	o := &ObjectStore{Endpoint: "http://127.0.0.1:" + strconv.Itoa(ports[6]), cmd: cmd, dir: dir}
	// Ready when the gateway makes a bucket and stores an object.
	deadline := time.Now().Add(90 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		err = o.probe(ctx)
		cancel()
		if err == nil {
			return o, nil
		}
		if time.Now().After(deadline) {
			o.stop()
			return nil, fmt.Errorf("SeaweedFS did not become ready in 90 s (log %s): %w", logFile.Name(), err)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

func (o *ObjectStore) probe(ctx context.Context) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, o.Endpoint+"/", nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	_, err = objects.Open(ctx, objects.Config{Endpoint: o.Endpoint, Bucket: "probe", AccessKey: objectsAccessKey,
		SecretKey: objectsSecretKey, Region: "us-east-1"})
	return err
}

func (o *ObjectStore) stop() {
	if o.cmd.Process != nil {
		_ = syscall.Kill(-o.cmd.Process.Pid, syscall.SIGKILL) // its own process group, started above
		_ = o.cmd.Wait()
	}
	os.RemoveAll(o.dir)
}

// freePorts returns n ports free on the loopback now.
func freePorts(n int) ([]int, error) {
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	var out []int
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		ls = append(ls, l)
		out = append(out, l.Addr().(*net.TCPAddr).Port)
	}
	return out, nil
}

func randomName(t testing.TB) string {
	b := make([]byte, 6)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}
