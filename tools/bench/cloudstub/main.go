// Command cloudstub stands in for Tencent Cloud's CAM and STS in the benchmark, reached the way
// production reaches them: TLS to <service>.tencentcloudapi.com through an HTTPS CONNECT proxy
// (a client given HTTPS_PROXY and the CA certificate this process writes at start).
//
// It exists so that the cloud is never what a measurement is bound by: the emulator
// (emulator/tencentcloud_emulator) models CAM in Python, with its rules, quotas and policy
// evaluation, and spends more CPU on a call than the plugins it would be measuring. This
// program does the least a benchmark needs:
//
//   - It verifies every request's TC3-HMAC-SHA256 signature against the one key pair it is
//     given and answers AuthFailure.* in the API 3.0 error envelope when it does not match, so
//     a plugin that signs wrongly fails here as it would in the cloud.
//   - It answers the actions the plugins call with bodies shaped like the real API's, and keeps
//     only the state those answers need: users and their keys, groups, custom policies.
//   - It waits a fixed latency before each answer (-latency-ms, or PUT /latency on the admin
//     port) and counts calls per action and outcome (GET and DELETE /counters).
//
// It does not authorize (a valid signature may do anything), enforce quotas or rate limits, or
// check parameters beyond what its answers need. It never opens a connection anywhere: a
// CONNECT to any other host or port is refused with 403. It never logs a request.
package main

import (
	"bufio"
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/signal"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

const (
	apiDomain        = ".tencentcloudapi.com"
	apiPort          = "443"
	algorithm        = "TC3-HMAC-SHA256"
	unsignedPayload  = "UNSIGNED-PAYLOAD"
	maxSkew          = 300 // seconds between X-TC-Timestamp and the clock, as the gateway allows
	maxBodyBytes     = 1 << 20
	maxConnectBytes  = 8192
	handshakeTimeout = 10 * time.Second
)

// The API version each service answers to.
var versions = map[string]string{"cam": "2019-01-16", "sts": "2018-08-13"}

type options struct {
	host      string
	proxyPort int
	httpsPort int
	adminPort int
	caFile    string
	secretID  string
	secretKey string
	ownerUin  uint64
	latencyMs int
	http2     bool
}

func main() {
	var o options
	flag.StringVar(&o.host, "host", "127.0.0.1", "address to bind every port to")
	flag.IntVar(&o.proxyPort, "proxy-port", 0, "CONNECT proxy port (0 picks a free one)")
	flag.IntVar(&o.httpsPort, "https-port", -1,
		"also serve HTTPS directly, certificate chosen by SNI (0 picks a free port; -1: off)")
	flag.IntVar(&o.adminPort, "admin-port", 0, "plain-HTTP admin port (0 picks a free one)")
	flag.StringVar(&o.caFile, "ca-file", "", "write the CA certificate (PEM) here (required)")
	flag.StringVar(&o.secretID, "secret-id", "AKIDEmulatorDemoRootKey0000000000000",
		"SecretId of the one key pair requests must be signed with")
	flag.StringVar(&o.secretKey, "secret-key", "EmulatorDemoSecretKeyNotReal0000",
		"SecretKey of that key pair")
	flag.Uint64Var(&o.ownerUin, "owner-uin", 100000000001, "the account's owner UIN")
	flag.IntVar(&o.latencyMs, "latency-ms", 0, "wait this long before answering each API call")
	flag.BoolVar(&o.http2, "http2", false, "offer HTTP/2 by ALPN besides HTTP/1.1")
	flag.Parse()
	if o.caFile == "" {
		fail(errors.New("-ca-file is required"))
	}
	if err := run(o); err != nil {
		fail(err)
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "cloudstub:", err)
	os.Exit(2)
}

// ready is the one line printed on stdout once every port accepts connections.
type ready struct {
	ProxyPort int    `json:"proxy_port"`
	HTTPSPort *int   `json:"https_port"`
	AdminPort int    `json:"admin_port"`
	CAFile    string `json:"ca_file"`
}

func run(o options) error {
	ca, err := newAuthority()
	if err != nil {
		return err
	}
	if err := os.WriteFile(o.caFile, ca.pem, 0o644); err != nil {
		return err
	}
	s := newStub(o, ca)
	listen := func(port int) (net.Listener, int, error) {
		ln, err := net.Listen("tcp", net.JoinHostPort(o.host, strconv.Itoa(port)))
		if err != nil {
			return nil, 0, err
		}
		return ln, ln.Addr().(*net.TCPAddr).Port, nil
	}
	proxy, proxyPort, err := listen(o.proxyPort)
	if err != nil {
		return err
	}
	admin, adminPort, err := listen(o.adminPort)
	if err != nil {
		return err
	}
	line := ready{ProxyPort: proxyPort, AdminPort: adminPort, CAFile: o.caFile}
	if o.httpsPort >= 0 {
		direct, port, err := listen(o.httpsPort)
		if err != nil {
			return err
		}
		line.HTTPSPort = &port
		go s.serveDirect(direct)
	}
	api := &http.Server{
		Handler:           http.HandlerFunc(s.serveAPI),
		ReadHeaderTimeout: handshakeTimeout,
		IdleTimeout:       120 * time.Second,
		// Handshake errors (a client that does not trust the CA) are the client's to report.
		ErrorLog: log.New(io.Discard, "", 0),
	}
	go func() { _ = api.Serve(s.queue) }()
	go s.serveProxy(proxy)
	go func() { _ = (&http.Server{Handler: s.adminHandler()}).Serve(admin) }()

	out, err := json.Marshal(line)
	if err != nil {
		return err
	}
	fmt.Println(string(out))

	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGINT, syscall.SIGTERM)
	<-stop
	return nil
}

// --- the stand-in ---------------------------------------------------------------------------

type stub struct {
	secretID   string
	secretKey  string
	latency    atomic.Int64 // nanoseconds
	tunnels    atomic.Int64 // CONNECTs accepted: how often clients open a new connection
	ca         *authority
	nextProtos []string
	counts     *counters
	world      *world
	queue      *connQueue

	mu      sync.Mutex
	configs map[string]*tls.Config
}

func newStub(o options, ca *authority) *stub {
	s := &stub{
		secretID:   o.secretID,
		secretKey:  o.secretKey,
		ca:         ca,
		nextProtos: []string{"http/1.1"},
		counts:     &counters{byAction: map[string]map[string]int{}},
		world:      newWorld(o.ownerUin),
		queue:      newConnQueue(),
		configs:    map[string]*tls.Config{},
	}
	if o.http2 {
		s.nextProtos = []string{"h2", "http/1.1"}
	}
	s.latency.Store(int64(o.latencyMs) * int64(time.Millisecond))
	return s
}

// isAPIHost says whether name is <label>[.<label>...].tencentcloudapi.com.
func isAPIHost(name string) bool {
	prefix, ok := strings.CutSuffix(strings.ToLower(name), apiDomain)
	if !ok || prefix == "" {
		return false
	}
	for _, label := range strings.Split(prefix, ".") {
		if label == "" || len(label) > 63 {
			return false
		}
		for _, c := range label {
			if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
				return false
			}
		}
	}
	return true
}

// tlsConfig gives the server configuration for one API host name, made once per name.
func (s *stub) tlsConfig(name string) (*tls.Config, error) {
	name = strings.ToLower(name)
	s.mu.Lock()
	defer s.mu.Unlock()
	if config, ok := s.configs[name]; ok {
		return config, nil
	}
	leaf, err := s.ca.issue(name)
	if err != nil {
		return nil, err
	}
	config := &tls.Config{
		Certificates: []tls.Certificate{leaf},
		NextProtos:   s.nextProtos,
		MinVersion:   tls.VersionTLS12,
	}
	s.configs[name] = config
	return config, nil
}

// serveProxy accepts CONNECT <name>.tencentcloudapi.com:443 only, then speaks TLS as that
// host on the same connection and hands it to the API server.
func (s *stub) serveProxy(ln net.Listener) {
	for {
		conn, err := ln.Accept()
		if err != nil {
			return
		}
		go s.proxyConn(conn)
	}
}

func (s *stub) proxyConn(conn net.Conn) {
	_ = conn.SetDeadline(time.Now().Add(handshakeTimeout))
	reader := bufio.NewReaderSize(io.LimitReader(conn, maxConnectBytes), 4096)
	req, err := http.ReadRequest(reader)
	if err != nil {
		conn.Close()
		return
	}
	host, port, err := net.SplitHostPort(req.Host)
	if req.Method != http.MethodConnect || err != nil || port != apiPort || !isAPIHost(host) {
		refuse(conn, "only CONNECT to *.tencentcloudapi.com:443 is served here")
		return
	}
	config, err := s.tlsConfig(host)
	if err != nil {
		refuse(conn, "no certificate for that host")
		return
	}
	if _, err := io.WriteString(conn, "HTTP/1.1 200 Connection established\r\n\r\n"); err != nil {
		conn.Close()
		return
	}
	_ = conn.SetDeadline(time.Time{})
	s.tunnels.Add(1)
	// A client may send its TLS hello before it has read the answer: keep what was read ahead.
	var raw net.Conn = conn
	if buffered := reader.Buffered(); buffered > 0 {
		early, _ := reader.Peek(buffered)
		raw = &prefixedConn{Conn: conn, r: io.MultiReader(bytes.NewReader(bytes.Clone(early)), conn)}
	}
	s.queue.push(tls.Server(raw, config))
}

func refuse(conn net.Conn, why string) {
	fmt.Fprintf(conn, "HTTP/1.1 403 Forbidden\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n"+
		"Connection: close\r\n\r\n%s", len(why), why)
	conn.Close()
}

// serveDirect speaks TLS on its own port, choosing the certificate by SNI.
func (s *stub) serveDirect(ln net.Listener) {
	config := &tls.Config{
		GetConfigForClient: func(hello *tls.ClientHelloInfo) (*tls.Config, error) {
			if !isAPIHost(hello.ServerName) {
				return nil, errors.New("not an API host name")
			}
			return s.tlsConfig(hello.ServerName)
		},
	}
	for {
		conn, err := ln.Accept()
		if err != nil {
			return
		}
		s.queue.push(tls.Server(conn, config))
	}
}

type prefixedConn struct {
	net.Conn
	r io.Reader
}

func (c *prefixedConn) Read(p []byte) (int, error) { return c.r.Read(p) }

// connQueue is the API server's listener: connections arrive from the proxy and the SNI port.
type connQueue struct {
	conns  chan net.Conn
	closed chan struct{}
	once   sync.Once
}

func newConnQueue() *connQueue {
	return &connQueue{conns: make(chan net.Conn), closed: make(chan struct{})}
}

func (q *connQueue) push(c net.Conn) {
	select {
	case q.conns <- c:
	case <-q.closed:
		c.Close()
	}
}

func (q *connQueue) Accept() (net.Conn, error) {
	select {
	case c := <-q.conns:
		return c, nil
	case <-q.closed:
		return nil, net.ErrClosed
	}
}

func (q *connQueue) Close() error {
	q.once.Do(func() { close(q.closed) })
	return nil
}

func (q *connQueue) Addr() net.Addr { return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)} }

// --- the certificate authority -----------------------------------------------------------------

type authority struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pem  []byte
}

func serial() (*big.Int, error) {
	return rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
}

func newAuthority() (*authority, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	number, err := serial()
	if err != nil {
		return nil, err
	}
	now := time.Now()
	template := &x509.Certificate{
		SerialNumber:          number,
		Subject:               pkix.Name{CommonName: "cloudstub benchmark CA"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(30 * 24 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
	}
	der, err := x509.CreateCertificate(rand.Reader, template, template, &key.PublicKey, key)
	if err != nil {
		return nil, err
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	return &authority{
		cert: cert,
		key:  key,
		pem:  pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
	}, nil
}

// issue makes a server certificate for one host name, signed by the authority.
func (a *authority) issue(name string) (tls.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, err
	}
	number, err := serial()
	if err != nil {
		return tls.Certificate{}, err
	}
	template := &x509.Certificate{
		SerialNumber: number,
		Subject:      pkix.Name{CommonName: name},
		DNSNames:     []string{name},
		NotBefore:    a.cert.NotBefore,
		NotAfter:     a.cert.NotAfter,
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, template, a.cert, &key.PublicKey, a.key)
	if err != nil {
		return tls.Certificate{}, err
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, nil
}

// --- API 3.0: envelope, signature, dispatch ------------------------------------------------------

// apiError is an error the service reports in the envelope (HTTP 200, Response.Error).
type apiError struct {
	Code    string
	Message string
}

func missingParameter(name string) *apiError {
	return &apiError{"MissingParameter", fmt.Sprintf("The request is missing a required parameter `%s`.", name)}
}

func invalidParameter(name, why string) *apiError {
	return &apiError{"InvalidParameter", fmt.Sprintf("The value of parameter `%s` %s.", name, why)}
}

func paramError(message string) *apiError {
	return &apiError{"InvalidParameter.ParamError", message}
}

func invalidAuthorization(why string) *apiError {
	return &apiError{"AuthFailure.InvalidAuthorization", "The Authorization header " + why + "."}
}

func signatureFailure() *apiError {
	return &apiError{"AuthFailure.SignatureFailure",
		"The provided credentials could not be validated. Check the signature."}
}

func (s *stub) serveAPI(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost || r.URL.Path != "/" {
		http.Error(w, "POST / only", http.StatusNotFound)
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBodyBytes+1))
	if err != nil {
		return
	}
	if len(body) > maxBodyBytes {
		http.Error(w, "request body too large", http.StatusRequestEntityTooLarge)
		return
	}
	if wait := time.Duration(s.latency.Load()); wait > 0 {
		time.Sleep(wait)
	}
	action := r.Header.Get("X-TC-Action")
	answer, failure := s.call(r, body)
	response := answer
	code := "Success"
	if failure != nil {
		code = failure.Code
		response = map[string]any{"Error": map[string]any{"Code": failure.Code, "Message": failure.Message}}
	}
	if response == nil {
		response = map[string]any{}
	}
	response["RequestId"] = requestID()
	if action == "" {
		action = "-"
	}
	s.counts.add(action, code)
	out, err := json.Marshal(map[string]any{"Response": response})
	if err != nil {
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(out)))
	_, _ = w.Write(out)
}

// call checks a request in the gateway's order (headers, service, signature) and runs it.
func (s *stub) call(r *http.Request, body []byte) (map[string]any, *apiError) {
	action := r.Header.Get("X-TC-Action")
	if action == "" {
		return nil, missingParameter("Action")
	}
	version := r.Header.Get("X-TC-Version")
	if version == "" {
		return nil, missingParameter("Version")
	}
	service := serviceOf(r.Host)
	if _, ok := versions[service]; !ok {
		return nil, &apiError{"InvalidAction",
			fmt.Sprintf("The service `%s` is not served here; this stand-in serves cam and sts.", service)}
	}
	auth, failure := parseAuthorization(r.Header.Get("Authorization"))
	if failure != nil {
		return nil, failure
	}
	if auth.service != service {
		return nil, invalidAuthorization(fmt.Sprintf(
			"signs for the service `%s`, but the request was sent to `%s`", auth.service, service))
	}
	if versions[service] != version {
		return nil, &apiError{"NoSuchVersion", fmt.Sprintf("The requested version `%s` is not supported.", version)}
	}
	handler := handlers[service][action]
	if handler == nil {
		return nil, &apiError{"InvalidAction",
			fmt.Sprintf("The action `%s` is not found in version `%s`.", action, version)}
	}
	if failure := s.verify(r, body, auth, time.Now()); failure != nil {
		return nil, failure
	}
	p, failure := parseParams(body)
	if failure != nil {
		return nil, failure
	}
	return handler(s.world, p)
}

// serviceOf is the first label of an API host name (port dropped), or "" for any other host.
func serviceOf(hostport string) string {
	host := hostport
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		host = h
	}
	if !isAPIHost(host) {
		return ""
	}
	return strings.ToLower(strings.SplitN(host, ".", 2)[0])
}

type authorization struct {
	secretID      string
	date          string
	service       string
	signedHeaders []string
	signature     string
}

var authorizationPattern = regexp.MustCompile(
	`^TC3-HMAC-SHA256 Credential=([^/,\s]+)/(\d{4}-\d{2}-\d{2})/([a-z0-9]+)/tc3_request, ?` +
		`SignedHeaders=([a-z0-9-]+(?:;[a-z0-9-]+)*), ?Signature=([0-9a-f]{64})$`)

// parseAuthorization splits the header. The signed headers must include content-type and host:
// those bind a signature to one body format and one endpoint.
func parseAuthorization(value string) (authorization, *apiError) {
	if strings.TrimSpace(value) == "" {
		return authorization{}, invalidAuthorization("is missing")
	}
	m := authorizationPattern.FindStringSubmatch(strings.TrimSpace(value))
	if m == nil {
		return authorization{}, invalidAuthorization("is not a valid " + algorithm + " authorization")
	}
	names := strings.Split(m[4], ";")
	for _, required := range []string{"content-type", "host"} {
		found := false
		for _, name := range names {
			found = found || name == required
		}
		if !found {
			return authorization{}, invalidAuthorization("must sign " + required + " (SignedHeaders lacks it)")
		}
	}
	return authorization{secretID: m[1], date: m[2], service: m[3], signedHeaders: names, signature: m[5]}, nil
}

// verify recomputes the signature over exactly the headers the client says it signed.
func (s *stub) verify(r *http.Request, body []byte, auth authorization, now time.Time) *apiError {
	timestamp, err := strconv.ParseInt(r.Header.Get("X-TC-Timestamp"), 10, 64)
	if err != nil || timestamp < 0 {
		return missingParameter("X-TC-Timestamp")
	}
	if skew := now.Unix() - timestamp; skew > maxSkew || skew < -maxSkew {
		return &apiError{"AuthFailure.SignatureExpire",
			"The request timestamp differs from the server time by more than 5 minutes."}
	}
	if auth.secretID != s.secretID {
		return &apiError{"AuthFailure.SecretIdNotFound", "The SecretId is not found or not active."}
	}
	if auth.date != scopeDate(timestamp) {
		return signatureFailure()
	}
	headers := make(map[string]string, len(auth.signedHeaders))
	for _, name := range auth.signedHeaders {
		if name == "host" {
			headers[name] = r.Host
		} else {
			headers[name] = r.Header.Get(name)
		}
	}
	payload := body
	if r.Header.Get("X-TC-Content-SHA256") == unsignedPayload {
		payload = []byte(unsignedPayload)
	}
	canonical := canonicalRequest(r.Method, r.URL.RawQuery, headers, auth.signedHeaders, payload)
	expected := signature(s.secretKey, auth.service, timestamp, canonical)
	if !hmac.Equal([]byte(expected), []byte(auth.signature)) {
		return signatureFailure()
	}
	if r.Header.Get("X-TC-Token") != "" {
		// The one key pair is permanent: no temporary credential was issued to sign with.
		return &apiError{"AuthFailure.TokenFailure", "The token is invalid."}
	}
	return nil
}

func scopeDate(timestamp int64) string {
	return time.Unix(timestamp, 0).UTC().Format("2006-01-02")
}

// canonicalRequest is METHOD, "/", the query, one "name:value" line per signed header (value
// trimmed and lowercased), the signed header names, and the payload's SHA-256.
func canonicalRequest(method, query string, headers map[string]string, signed []string, payload []byte) string {
	var lines strings.Builder
	for _, name := range signed {
		lines.WriteString(name + ":" + strings.ToLower(strings.TrimSpace(headers[name])) + "\n")
	}
	digest := sha256.Sum256(payload)
	return strings.Join([]string{
		strings.ToUpper(method), "/", query, lines.String(), strings.Join(signed, ";"), hex.EncodeToString(digest[:]),
	}, "\n")
}

func mac(key []byte, message string) []byte {
	h := hmac.New(sha256.New, key)
	h.Write([]byte(message))
	return h.Sum(nil)
}

// signature signs the canonical request with the key derived for the day and the service.
func signature(secretKey, service string, timestamp int64, canonical string) string {
	date := scopeDate(timestamp)
	digest := sha256.Sum256([]byte(canonical))
	toSign := strings.Join([]string{
		algorithm, strconv.FormatInt(timestamp, 10), date + "/" + service + "/tc3_request", hex.EncodeToString(digest[:]),
	}, "\n")
	key := mac(mac(mac([]byte("TC3"+secretKey), date), service), "tc3_request")
	return hex.EncodeToString(mac(key, toSign))
}

func requestID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}

// --- counters and the admin port -------------------------------------------------------------

type counters struct {
	mu       sync.Mutex
	byAction map[string]map[string]int
}

func (c *counters) add(action, code string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	codes := c.byAction[action]
	if codes == nil {
		codes = map[string]int{}
		c.byAction[action] = codes
	}
	codes[code]++
	codes["calls"]++
}

// snapshot is, per action, "calls" and a count per outcome code ("Success" for successes): the
// emulator's /_emulator/counters shape, so the benchmark reads both alike.
func (c *counters) snapshot() map[string]map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make(map[string]map[string]int, len(c.byAction))
	for action, codes := range c.byAction {
		copied := make(map[string]int, len(codes))
		for code, n := range codes {
			copied[code] = n
		}
		out[action] = copied
	}
	return out
}

func (c *counters) reset() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.byAction = map[string]map[string]int{}
}

func writeJSON(w http.ResponseWriter, status int, value any) {
	out, _ := json.Marshal(value)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(out)
}

// adminHandler: GET /health, GET and DELETE /counters, GET and PUT /latency?ms=N, GET /state
// (how many users, keys, groups and policies exist, and how many tunnels were opened so far).
func (s *stub) adminHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /health", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, map[string]bool{"ok": true})
	})
	mux.HandleFunc("GET /counters", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, s.counts.snapshot())
	})
	mux.HandleFunc("DELETE /counters", func(w http.ResponseWriter, _ *http.Request) {
		s.counts.reset()
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("GET /latency", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, map[string]int64{"ms": s.latency.Load() / int64(time.Millisecond)})
	})
	mux.HandleFunc("PUT /latency", func(w http.ResponseWriter, r *http.Request) {
		ms, err := strconv.Atoi(r.URL.Query().Get("ms"))
		if err != nil || ms < 0 {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": "ms must be a whole number of milliseconds"})
			return
		}
		s.latency.Store(int64(ms) * int64(time.Millisecond))
		writeJSON(w, http.StatusOK, map[string]int{"ms": ms})
	})
	mux.HandleFunc("GET /state", func(w http.ResponseWriter, _ *http.Request) {
		state := s.world.summary()
		state["tunnels"] = int(s.tunnels.Load())
		writeJSON(w, http.StatusOK, state)
	})
	return mux
}

// --- parameters -------------------------------------------------------------------------------

type params map[string]any

func parseParams(body []byte) (params, *apiError) {
	if len(bytes.TrimSpace(body)) == 0 {
		return params{}, nil
	}
	decoder := json.NewDecoder(bytes.NewReader(body))
	decoder.UseNumber()
	var p params
	if err := decoder.Decode(&p); err != nil || p == nil {
		return nil, &apiError{"InvalidParameter", "The request body is not a JSON object."}
	}
	return p, nil
}

func (p params) text(name string, required bool) (string, *apiError) {
	value, ok := p[name]
	if !ok || value == nil {
		if required {
			return "", missingParameter(name)
		}
		return "", nil
	}
	text, ok := value.(string)
	if !ok {
		return "", invalidParameter(name, "must be a string")
	}
	return text, nil
}

func (p params) has(name string) bool {
	value, ok := p[name]
	return ok && value != nil
}

func asNumber(name string, value any) (int64, *apiError) {
	switch v := value.(type) {
	case json.Number:
		if n, err := v.Int64(); err == nil {
			return n, nil
		}
	case string: // the SDKs send some integers as strings
		if n, err := strconv.ParseInt(v, 10, 64); err == nil {
			return n, nil
		}
	}
	return 0, invalidParameter(name, "must be an integer")
}

func (p params) number(name string, required bool, fallback int64) (int64, *apiError) {
	value, ok := p[name]
	if !ok || value == nil {
		if required {
			return 0, missingParameter(name)
		}
		return fallback, nil
	}
	return asNumber(name, value)
}

func (p params) uint(name string, required bool) (uint64, *apiError) {
	n, failure := p.number(name, required, 0)
	if failure == nil && n < 0 {
		failure = invalidParameter(name, "must not be negative")
	}
	return uint64(n), failure
}

func (p params) objects(name string, required bool) ([]params, *apiError) {
	value, ok := p[name]
	if !ok || value == nil {
		if required {
			return nil, missingParameter(name)
		}
		return nil, nil
	}
	items, ok := value.([]any)
	if !ok {
		return nil, invalidParameter(name, "must be a list")
	}
	out := make([]params, 0, len(items))
	for _, item := range items {
		object, ok := item.(map[string]any)
		if !ok {
			return nil, invalidParameter(name, "must be a list of objects")
		}
		out = append(out, params(object))
	}
	return out, nil
}

func (p params) paging() (page, rp int64, failure *apiError) {
	if page, failure = p.number("Page", false, 1); failure != nil {
		return
	}
	if rp, failure = p.number("Rp", false, 20); failure != nil {
		return
	}
	if page < 1 {
		return 0, 0, paramError("`Page` must be 1 or more.")
	}
	if rp < 1 || rp > 200 {
		return 0, 0, paramError("`Rp` must be between 1 and 200.")
	}
	return page, rp, nil
}

func pageOf[T any](items []T, page, rp int64) []T {
	start := (page - 1) * rp
	if start >= int64(len(items)) {
		return []T{}
	}
	return items[start:min(int64(len(items)), start+rp)]
}

// --- the account's state ------------------------------------------------------------------------

var beijing = time.FixedZone("CST", 8*3600)

// camTime is how CAM renders times: YYYY-MM-DD HH:MM:SS in Beijing time.
func camTime(t time.Time) string { return t.In(beijing).Format("2006-01-02 15:04:05") }

// isoUTC is STS's Expiration: YYYY-MM-DDTHH:MM:SSZ.
func isoUTC(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05Z") }

const alnum = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"

func randomText(n int, alphabet string) string {
	raw := make([]byte, n)
	_, _ = rand.Read(raw)
	for i, b := range raw {
		raw[i] = alphabet[int(b)%len(alphabet)]
	}
	return string(raw)
}

type accessKey struct {
	id          string
	owner       uint64
	description string
	status      string
	created     time.Time
}

type user struct {
	uin, uid     uint64
	name, remark string
	consoleLogin int64
	created      time.Time
	keys         map[string]*accessKey
	groups       map[uint64]time.Time
	policies     map[uint64]time.Time
}

type group struct {
	id           uint64
	name, remark string
	created      time.Time
	members      map[uint64]time.Time
	policies     map[uint64]time.Time
}

type policy struct {
	id                             uint64
	name, description, serviceType string
	document                       string
	kind                           int // 1: custom, 2: preset
	added                          time.Time
}

type world struct {
	mu         sync.Mutex
	owner      uint64
	nextUin    uint64
	nextUid    uint64
	nextGroup  uint64
	nextPolicy uint64
	users      map[string]*user
	uins       map[uint64]*user
	keys       map[string]*accessKey
	groups     map[uint64]*group
	policies   map[uint64]*policy
}

func newWorld(owner uint64) *world {
	w := &world{
		owner: owner, nextUin: 100000100000, nextUid: 11000000, nextGroup: 90000, nextPolicy: 150000000,
		users: map[string]*user{}, uins: map[uint64]*user{}, keys: map[string]*accessKey{},
		groups: map[uint64]*group{}, policies: map[uint64]*policy{},
	}
	start := time.Date(2019, 1, 16, 0, 0, 0, 0, beijing)
	for _, p := range []policy{
		{1, "AdministratorAccess", "Full access to all cloud assets.", "", "", 2, start},
		{2, "QcloudCamFullAccess", "Full access to Cloud Access Management (CAM).", "cam", "", 2, start},
		{3, "QcloudCamReadOnlyAccess", "Read-only access to Cloud Access Management (CAM).", "cam", "", 2, start},
		{31425, "QcloudSTSFullAccess", "Full access to Security Token Service (STS).", "sts", "", 2, start},
		{219187, "QcloudCOSReadOnlyAccess", "Read-only access to Cloud Object Storage (COS).", "cos", "", 2, start},
		{219188, "ReadOnlyAccess", "Read-only access to all cloud assets that support API-level authorization.", "", "", 2, start},
	} {
		preset := p
		preset.document = `{"version":"2.0","statement":[{"effect":"allow","action":["*"],"resource":["*"]}]}`
		w.policies[p.id] = &preset
	}
	return w
}

func (w *world) summary() map[string]int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return map[string]int{"users": len(w.users), "keys": len(w.keys), "groups": len(w.groups), "policies": len(w.policies)}
}

func (w *world) userByUin(uin uint64, code string) (*user, *apiError) {
	if u := w.uins[uin]; u != nil {
		return u, nil
	}
	return nil, &apiError{code, fmt.Sprintf("The user uin %d does not exist.", uin)}
}

func (w *world) policy(id uint64) (*policy, *apiError) {
	if p := w.policies[id]; p != nil {
		return p, nil
	}
	return nil, &apiError{"ResourceNotFound.PolicyIdNotFound", fmt.Sprintf("The policy %d does not exist.", id)}
}

func (w *world) group(id uint64, code string) (*group, *apiError) {
	if g := w.groups[id]; g != nil {
		return g, nil
	}
	return nil, &apiError{code, fmt.Sprintf("The group %d does not exist.", id)}
}

func (w *world) newKey(owner uint64, description string) *accessKey {
	key := &accessKey{id: "AKID" + randomText(32, alnum), owner: owner, description: description,
		status: "Active", created: time.Now()}
	w.keys[key.id] = key
	if u := w.uins[owner]; u != nil {
		u.keys[key.id] = key
	}
	return key
}

func (w *world) attachedCount(id uint64) int {
	n := 0
	for _, u := range w.users {
		if _, ok := u.policies[id]; ok {
			n++
		}
	}
	for _, g := range w.groups {
		if _, ok := g.policies[id]; ok {
			n++
		}
	}
	return n
}

// --- the actions ------------------------------------------------------------------------------

type handler func(*world, params) (map[string]any, *apiError)

var handlers = map[string]map[string]handler{
	"sts": {
		"AssumeRole":         assumeRole,
		"GetFederationToken": getFederationToken,
		"GetCallerIdentity":  getCallerIdentity,
	},
	"cam": {
		"AddUser":                   addUser,
		"GetUser":                   getUser,
		"ListUsers":                 listUsers,
		"DeleteUser":                deleteUser,
		"CreateAccessKey":           createAccessKey,
		"DeleteAccessKey":           deleteAccessKey,
		"UpdateAccessKey":           updateAccessKey,
		"ListAccessKeys":            listAccessKeys,
		"CreatePolicy":              createPolicy,
		"DeletePolicy":              deletePolicy,
		"GetPolicy":                 getPolicy,
		"ListPolicies":              listPolicies,
		"AttachUserPolicy":          attachUserPolicy,
		"DetachUserPolicy":          detachUserPolicy,
		"ListAttachedUserPolicies":  listAttachedUserPolicies,
		"CreateGroup":               createGroup,
		"DeleteGroup":               deleteGroup,
		"GetGroup":                  getGroup,
		"ListGroups":                listGroups,
		"AttachGroupPolicy":         attachGroupPolicy,
		"DetachGroupPolicy":         detachGroupPolicy,
		"ListAttachedGroupPolicies": listAttachedGroupPolicies,
		"AddUserToGroup":            addUserToGroup,
		"RemoveUserFromGroup":       removeUserFromGroup,
		"ListGroupsForUser":         listGroupsForUser,
		"ListUsersForGroup":         listUsersForGroup,
	},
}

var (
	sessionNamePattern   = regexp.MustCompile(`^[\w+=,.@-]{2,128}$`)
	externalIDPattern    = regexp.MustCompile(`^[\w+=,.@:/-]{2,128}$`)
	federatedNamePattern = regexp.MustCompile(`^[\w+=,.@-]{2,32}$`)
	roleArnPattern       = regexp.MustCompile(`^qcs::cam::uin/\d+:(roleName|role)/.+$`)
	namePattern          = regexp.MustCompile(`^[\w+=,.@-]{1,64}$`)
)

// credentials is the temporary key triple with its expiry, as AssumeRole and
// GetFederationToken answer it.
func credentials(seconds int64) map[string]any {
	expires := time.Now().Add(time.Duration(seconds) * time.Second).Truncate(time.Second)
	token := make([]byte, 180)
	_, _ = rand.Read(token)
	return map[string]any{
		"Credentials": map[string]any{
			"Token":        base64.RawURLEncoding.EncodeToString(token),
			"TmpSecretId":  "AKID" + randomText(68, alnum),
			"TmpSecretKey": randomText(44, alnum),
		},
		"ExpiredTime": expires.Unix(),
		"Expiration":  isoUTC(expires),
	}
}

func duration(p params, fallback, low, high int64) (int64, *apiError) {
	seconds, failure := p.number("DurationSeconds", false, fallback)
	if failure != nil {
		return 0, failure
	}
	if seconds < low || seconds > high {
		return 0, paramError(fmt.Sprintf("`DurationSeconds` must be between %d and %d.", low, high))
	}
	return seconds, nil
}

// AssumeRole: RoleArn, RoleSessionName 2-128, DurationSeconds 900-43200 (default 7200),
// ExternalId. An empty ExternalId counts as none: clients that always send the field send
// it empty when there is none. Whether the role exists and trusts the caller is not checked.
func assumeRole(w *world, p params) (map[string]any, *apiError) {
	arn, failure := p.text("RoleArn", true)
	if failure != nil {
		return nil, failure
	}
	session, failure := p.text("RoleSessionName", true)
	if failure != nil {
		return nil, failure
	}
	if !sessionNamePattern.MatchString(session) {
		return nil, paramError("`RoleSessionName` must be 2-128 of [\\w+=,.@-].")
	}
	seconds, failure := duration(p, 7200, 900, 43200)
	if failure != nil {
		return nil, failure
	}
	external, failure := p.text("ExternalId", false)
	if failure != nil {
		return nil, failure
	}
	if external != "" && !externalIDPattern.MatchString(external) {
		return nil, paramError("`ExternalId` must be 2-128 of [\\w+=,.@:/-].")
	}
	if !roleArnPattern.MatchString(arn) {
		return nil, paramError("`RoleArn` is not a role ARN.")
	}
	return credentials(seconds), nil
}

// GetFederationToken: Name 2-32, Policy, DurationSeconds up to 7200 (default 1800) for the
// root account's keys.
func getFederationToken(w *world, p params) (map[string]any, *apiError) {
	name, failure := p.text("Name", true)
	if failure != nil {
		return nil, failure
	}
	if !federatedNamePattern.MatchString(name) {
		return nil, paramError("`Name` must be 2-32 of [\\w+=,.@-].")
	}
	if _, failure := p.text("Policy", true); failure != nil {
		return nil, failure
	}
	seconds, failure := duration(p, 1800, 1, 7200)
	if failure != nil {
		return nil, failure
	}
	return credentials(seconds), nil
}

func getCallerIdentity(w *world, p params) (map[string]any, *apiError) {
	owner := strconv.FormatUint(w.owner, 10)
	return map[string]any{
		"Arn": "qcs::cam::uin/" + owner + ":uin/" + owner, "AccountId": owner,
		"UserId": owner, "PrincipalId": owner, "Type": "CAMUser",
	}, nil
}

// AddUser: Name 1-64 and unused; a console password is made when ConsoleLogin is set without
// one; a key pair comes back only with UseApi=1.
func addUser(w *world, p params) (map[string]any, *apiError) {
	name, failure := p.text("Name", true)
	if failure != nil {
		return nil, failure
	}
	remark, failure := p.text("Remark", false)
	if failure != nil {
		return nil, failure
	}
	console, failure := p.number("ConsoleLogin", false, 0)
	if failure != nil {
		return nil, failure
	}
	useAPI, failure := p.number("UseApi", false, 0)
	if failure != nil {
		return nil, failure
	}
	password, failure := p.text("Password", false)
	if failure != nil {
		return nil, failure
	}
	if !namePattern.MatchString(name) {
		return nil, &apiError{"InvalidParameter.UserNameIllegal", "The user name is illegal."}
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.users[name] != nil {
		return nil, &apiError{"InvalidParameter.SubUserNameInUse", fmt.Sprintf("The name `%s` is in use.", name)}
	}
	u := &user{uin: w.nextUin, uid: w.nextUid, name: name, remark: remark, consoleLogin: console,
		created: time.Now(), keys: map[string]*accessKey{}, groups: map[uint64]time.Time{},
		policies: map[uint64]time.Time{}}
	w.nextUin++
	w.nextUid++
	w.users[name] = u
	w.uins[u.uin] = u
	out := map[string]any{"Uin": u.uin, "Name": u.name, "Uid": u.uid}
	if console == 1 && password == "" {
		out["Password"] = randomText(28, alnum) + "Aa1!"
	}
	if useAPI == 1 {
		key := w.newKey(u.uin, "")
		out["SecretId"], out["SecretKey"] = key.id, randomText(32, alnum)
	}
	return out, nil
}

func subAccount(u *user) map[string]any {
	return map[string]any{
		"Uin": u.uin, "Name": u.name, "Uid": u.uid, "Remark": u.remark, "ConsoleLogin": u.consoleLogin,
		"PhoneNum": "", "CountryCode": "", "Email": "", "CreateTime": camTime(u.created), "NickName": "",
	}
}

func lookupUser(w *world, p params) (*user, *apiError) {
	name, failure := p.text("Name", true)
	if failure != nil {
		return nil, failure
	}
	if u := w.users[name]; u != nil {
		return u, nil
	}
	return nil, &apiError{"ResourceNotFound.UserNotExist", fmt.Sprintf("The user `%s` does not exist.", name)}
}

func getUser(w *world, p params) (map[string]any, *apiError) {
	w.mu.Lock()
	defer w.mu.Unlock()
	u, failure := lookupUser(w, p)
	if failure != nil {
		return nil, failure
	}
	out := subAccount(u)
	delete(out, "CreateTime")
	delete(out, "NickName")
	out["RecentlyLoginIP"], out["RecentlyLoginTime"] = "", ""
	return out, nil
}

func listUsers(w *world, p params) (map[string]any, *apiError) {
	w.mu.Lock()
	defer w.mu.Unlock()
	users := make([]*user, 0, len(w.users))
	for _, u := range w.users {
		users = append(users, u)
	}
	sort.Slice(users, func(i, j int) bool { return users[i].uin < users[j].uin })
	data := make([]map[string]any, 0, len(users))
	for _, u := range users {
		data = append(data, subAccount(u))
	}
	return map[string]any{"Data": data}, nil
}

// DeleteUser: the user must exist; a user with keys goes only with Force=1.
func deleteUser(w *world, p params) (map[string]any, *apiError) {
	force, failure := p.number("Force", false, 0)
	if failure != nil {
		return nil, failure
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	u, failure := lookupUser(w, p)
	if failure != nil {
		return nil, failure
	}
	if len(u.keys) > 0 && force != 1 {
		return nil, &apiError{"OperationDenied.HaveKeys", "The user still has API keys."}
	}
	for id := range u.keys {
		delete(w.keys, id)
	}
	for id := range u.groups {
		if g := w.groups[id]; g != nil {
			delete(g.members, u.uin)
		}
	}
	delete(w.users, u.name)
	delete(w.uins, u.uin)
	return map[string]any{}, nil
}

func keyView(k *accessKey) map[string]any {
	return map[string]any{"AccessKeyId": k.id, "Status": k.status, "CreateTime": camTime(k.created),
		"Description": k.description}
}

// keyOwner is TargetUin, or the account's owner when it is absent.
func keyOwner(w *world, p params) (uint64, *apiError) {
	if !p.has("TargetUin") {
		return w.owner, nil
	}
	uin, failure := p.uint("TargetUin", true)
	if failure != nil {
		return 0, failure
	}
	if uin != w.owner && w.uins[uin] == nil {
		return 0, &apiError{"InvalidParameter.UserNotExist", fmt.Sprintf("The user %d does not exist.", uin)}
	}
	return uin, nil
}

func createAccessKey(w *world, p params) (map[string]any, *apiError) {
	description, failure := p.text("Description", false)
	if failure != nil {
		return nil, failure
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	owner, failure := keyOwner(w, p)
	if failure != nil {
		return nil, failure
	}
	if u := w.uins[owner]; u != nil && len(u.keys) >= 2 {
		return nil, &apiError{"OperationDenied.AccessKeyOverLimit", "The user already has 2 keys."}
	}
	key := keyView(w.newKey(owner, description))
	key["SecretAccessKey"] = randomText(32, alnum)
	return map[string]any{"AccessKey": key}, nil
}

func ownedKey(w *world, p params) (*accessKey, *apiError) {
	id, failure := p.text("AccessKeyId", true)
	if failure != nil {
		return nil, failure
	}
	owner, failure := keyOwner(w, p)
	if failure != nil {
		return nil, failure
	}
	key := w.keys[id]
	if key == nil || key.owner != owner {
		return nil, &apiError{"ResourceNotFound.SecretNotExist", "The access key does not exist."}
	}
	return key, nil
}

func deleteAccessKey(w *world, p params) (map[string]any, *apiError) {
	w.mu.Lock()
	defer w.mu.Unlock()
	key, failure := ownedKey(w, p)
	if failure != nil {
		return nil, failure
	}
	delete(w.keys, key.id)
	if u := w.uins[key.owner]; u != nil {
		delete(u.keys, key.id)
	}
	return map[string]any{}, nil
}

func updateAccessKey(w *world, p params) (map[string]any, *apiError) {
	status, failure := p.text("Status", true)
	if failure != nil {
		return nil, failure
	}
	if status != "Active" && status != "Inactive" {
		return nil, paramError("`Status` must be Active or Inactive.")
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	key, failure := ownedKey(w, p)
	if failure != nil {
		return nil, failure
	}
	key.status = status
	return map[string]any{}, nil
}

func listAccessKeys(w *world, p params) (map[string]any, *apiError) {
	w.mu.Lock()
	defer w.mu.Unlock()
	owner, failure := keyOwner(w, p)
	if failure != nil {
		return nil, failure
	}
	keys := []map[string]any{}
	if u := w.uins[owner]; u != nil {
		for _, k := range u.keys {
			keys = append(keys, keyView(k))
		}
	}
	return map[string]any{"AccessKeys": keys}, nil
}

func createPolicy(w *world, p params) (map[string]any, *apiError) {
	name, failure := p.text("PolicyName", true)
	if failure != nil {
		return nil, failure
	}
	document, failure := p.text("PolicyDocument", true)
	if failure != nil {
		return nil, failure
	}
	description, failure := p.text("Description", false)
	if failure != nil {
		return nil, failure
	}
	if !namePattern.MatchString(name) {
		return nil, &apiError{"InvalidParameter.PolicyNameError", "The policy name is illegal."}
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, existing := range w.policies {
		if existing.name == name {
			return nil, &apiError{"FailedOperation.PolicyNameInUse", fmt.Sprintf("The name `%s` is in use.", name)}
		}
	}
	created := &policy{id: w.nextPolicy, name: name, description: description, document: document, kind: 1,
		added: time.Now()}
	w.nextPolicy++
	w.policies[created.id] = created
	return map[string]any{"PolicyId": created.id}, nil
}

func deletePolicy(w *world, p params) (map[string]any, *apiError) {
	raw, ok := p["PolicyId"].([]any)
	if !ok || len(raw) == 0 {
		return nil, &apiError{"InvalidParameter.PolicyIdError", "`PolicyId` must not be empty."}
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	ids := make([]uint64, 0, len(raw))
	for _, item := range raw {
		id, failure := asNumber("PolicyId", item)
		if failure != nil {
			return nil, failure
		}
		found, failure := w.policy(uint64(id))
		if failure != nil {
			return nil, failure
		}
		if found.kind == 2 {
			return nil, &apiError{"InvalidParameter.PolicyIdError", fmt.Sprintf("The preset policy %d is read-only.", id)}
		}
		ids = append(ids, uint64(id))
	}
	for _, id := range ids {
		delete(w.policies, id)
		for _, u := range w.users {
			delete(u.policies, id)
		}
		for _, g := range w.groups {
			delete(g.policies, id)
		}
	}
	return map[string]any{}, nil
}

func getPolicy(w *world, p params) (map[string]any, *apiError) {
	id, failure := p.uint("PolicyId", true)
	if failure != nil {
		return nil, failure
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	found, failure := w.policy(id)
	if failure != nil {
		return nil, failure
	}
	alias := ""
	if found.kind == 2 {
		alias = found.name
	}
	return map[string]any{
		"PolicyName": found.name, "Description": found.description, "Type": found.kind,
		"AddTime": camTime(found.added), "UpdateTime": camTime(found.added), "PolicyDocument": found.document,
		"PresetAlias": alias, "IsServiceLinkedRolePolicy": 0, "Tags": []any{},
	}, nil
}

// ListPolicies: Scope All, QCS (presets) or Local (custom); Keyword is a case-insensitive
// substring of the name; custom policies come first, newest first, then presets by id.
func listPolicies(w *world, p params) (map[string]any, *apiError) {
	page, rp, failure := p.paging()
	if failure != nil {
		return nil, failure
	}
	scope, failure := p.text("Scope", false)
	if failure != nil {
		return nil, failure
	}
	keyword, failure := p.text("Keyword", false)
	if failure != nil {
		return nil, failure
	}
	if scope == "" {
		scope = "All"
	}
	if scope != "All" && scope != "QCS" && scope != "Local" {
		return nil, &apiError{"InvalidParameter.ScopeError", "`Scope` must be All, QCS or Local."}
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	var matched []*policy
	for _, candidate := range w.policies {
		wanted := scope == "All" || scope == "QCS" && candidate.kind == 2 || scope == "Local" && candidate.kind == 1
		if wanted && strings.Contains(strings.ToLower(candidate.name), strings.ToLower(keyword)) {
			matched = append(matched, candidate)
		}
	}
	sort.Slice(matched, func(i, j int) bool {
		a, b := matched[i], matched[j]
		if a.kind != b.kind {
			return a.kind < b.kind
		}
		if a.kind == 1 {
			return a.id > b.id
		}
		return a.id < b.id
	})
	list := []map[string]any{}
	services := map[string]bool{}
	for _, found := range pageOf(matched, page, rp) {
		count := w.attachedCount(found.id)
		createMode := 2
		if found.kind == 1 {
			createMode = 1
		}
		list = append(list, map[string]any{
			"PolicyId": found.id, "PolicyName": found.name, "AddTime": camTime(found.added),
			"UpdateTime": camTime(found.added), "Type": found.kind, "Description": found.description,
			"CreateMode": createMode, "Attachments": count, "ServiceType": found.serviceType,
			"Deactived": 0, "DeactivedDetail": []any{}, "IsServiceLinkedPolicy": 0,
			"AttachEntityCount": count, "AttachEntityBoundaryCount": 0, "Tags": []any{},
		})
		if found.serviceType != "" {
			services[found.serviceType] = true
		}
	}
	serviceList := make([]string, 0, len(services))
	for name := range services {
		serviceList = append(serviceList, name)
	}
	sort.Strings(serviceList)
	return map[string]any{"TotalNum": len(matched), "List": list, "ServiceTypeList": serviceList}, nil
}

func attached(w *world, rows map[uint64]time.Time, page, rp int64) (int, []map[string]any) {
	ids := make([]uint64, 0, len(rows))
	for id := range rows {
		if w.policies[id] != nil {
			ids = append(ids, id)
		}
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	owner := strconv.FormatUint(w.owner, 10)
	list := []map[string]any{}
	for _, id := range pageOf(ids, page, rp) {
		found := w.policies[id]
		kind := "User"
		if found.kind == 2 {
			kind = "QCS"
		}
		list = append(list, map[string]any{
			"PolicyId": found.id, "PolicyName": found.name, "AddTime": camTime(rows[id]),
			"CreateMode": 3 - found.kind, "PolicyType": kind, "Remark": found.description,
			"OperateOwnerUin": owner, "OperateUin": owner, "OperateUinType": 0,
			"Deactived": 0, "DeactivedDetail": []any{},
		})
	}
	return len(ids), list
}

func attachUserPolicy(w *world, p params) (map[string]any, *apiError) {
	return userPolicy(w, p, "AttachUin", true)
}

func detachUserPolicy(w *world, p params) (map[string]any, *apiError) {
	return userPolicy(w, p, "DetachUin", false)
}

func userPolicy(w *world, p params, uinParam string, attach bool) (map[string]any, *apiError) {
	id, failure := p.uint("PolicyId", true)
	if failure != nil {
		return nil, failure
	}
	uin, failure := p.uint(uinParam, true)
	if failure != nil {
		return nil, failure
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if _, failure := w.policy(id); failure != nil {
		return nil, failure
	}
	u, failure := w.userByUin(uin, "ResourceNotFound.UserNotExist")
	if failure != nil {
		return nil, failure
	}
	if attach {
		if _, ok := u.policies[id]; !ok {
			u.policies[id] = time.Now()
		}
	} else {
		delete(u.policies, id)
	}
	return map[string]any{}, nil
}

func listAttachedUserPolicies(w *world, p params) (map[string]any, *apiError) {
	uin, failure := p.uint("TargetUin", true)
	if failure != nil {
		return nil, failure
	}
	page, rp, failure := p.paging()
	if failure != nil {
		return nil, failure
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	u, failure := w.userByUin(uin, "InvalidParameter.ParamError")
	if failure != nil {
		return nil, failure
	}
	total, list := attached(w, u.policies, page, rp)
	return map[string]any{"TotalNum": total, "List": list}, nil
}

func groupView(g *group) map[string]any {
	return map[string]any{"GroupId": g.id, "GroupName": g.name, "CreateTime": camTime(g.created), "Remark": g.remark}
}

func memberView(u *user, joined time.Time) map[string]any {
	return map[string]any{
		"Uid": u.uid, "Uin": u.uin, "Name": u.name, "PhoneNum": "", "CountryCode": "", "PhoneFlag": 0,
		"Email": "", "EmailFlag": 0, "UserType": 0, "CreateTime": camTime(joined), "IsReceiverOwner": 0,
		"Remark": u.remark,
	}
}

func createGroup(w *world, p params) (map[string]any, *apiError) {
	name, failure := p.text("GroupName", true)
	if failure != nil {
		return nil, failure
	}
	remark, failure := p.text("Remark", false)
	if failure != nil {
		return nil, failure
	}
	if !namePattern.MatchString(name) {
		return nil, paramError("The group name is illegal.")
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, existing := range w.groups {
		if existing.name == name {
			return nil, &apiError{"InvalidParameter.GroupNameInUse", fmt.Sprintf("The name `%s` is in use.", name)}
		}
	}
	g := &group{id: w.nextGroup, name: name, remark: remark, created: time.Now(),
		members: map[uint64]time.Time{}, policies: map[uint64]time.Time{}}
	w.nextGroup++
	w.groups[g.id] = g
	return map[string]any{"GroupId": g.id}, nil
}

// DeleteGroup and GetGroup report a missing group as ResourceNotFound.UserNotExist, the code
// their reference lists (the emulator does the same).
func deleteGroup(w *world, p params) (map[string]any, *apiError) {
	id, failure := p.uint("GroupId", true)
	if failure != nil {
		return nil, failure
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	g, failure := w.group(id, "ResourceNotFound.UserNotExist")
	if failure != nil {
		return nil, failure
	}
	for uin := range g.members {
		if u := w.uins[uin]; u != nil {
			delete(u.groups, id)
		}
	}
	delete(w.groups, id)
	return map[string]any{}, nil
}

func getGroup(w *world, p params) (map[string]any, *apiError) {
	id, failure := p.uint("GroupId", true)
	if failure != nil {
		return nil, failure
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	g, failure := w.group(id, "ResourceNotFound.UserNotExist")
	if failure != nil {
		return nil, failure
	}
	members := []map[string]any{}
	for uin, joined := range g.members {
		if u := w.uins[uin]; u != nil {
			members = append(members, memberView(u, joined))
		}
	}
	out := groupView(g)
	out["GroupNum"], out["UserInfo"] = len(members), members
	return out, nil
}

func sortedGroups(w *world, keep func(*group) bool) []*group {
	var rows []*group
	for _, g := range w.groups {
		if keep(g) {
			rows = append(rows, g)
		}
	}
	sort.Slice(rows, func(i, j int) bool { return rows[i].id < rows[j].id })
	return rows
}

func groupPage(rows []*group, page, rp int64) map[string]any {
	info := []map[string]any{}
	for _, g := range pageOf(rows, page, rp) {
		info = append(info, groupView(g))
	}
	return map[string]any{"TotalNum": len(rows), "GroupInfo": info}
}

func listGroups(w *world, p params) (map[string]any, *apiError) {
	page, rp, failure := p.paging()
	if failure != nil {
		return nil, failure
	}
	keyword, failure := p.text("Keyword", false)
	if failure != nil {
		return nil, failure
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	rows := sortedGroups(w, func(g *group) bool {
		return strings.Contains(strings.ToLower(g.name), strings.ToLower(keyword))
	})
	return groupPage(rows, page, rp), nil
}

func attachGroupPolicy(w *world, p params) (map[string]any, *apiError) {
	return groupPolicy(w, p, "AttachGroupId", true)
}

func detachGroupPolicy(w *world, p params) (map[string]any, *apiError) {
	return groupPolicy(w, p, "DetachGroupId", false)
}

func groupPolicy(w *world, p params, groupParam string, attach bool) (map[string]any, *apiError) {
	id, failure := p.uint("PolicyId", true)
	if failure != nil {
		return nil, failure
	}
	groupID, failure := p.uint(groupParam, true)
	if failure != nil {
		return nil, failure
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if _, failure := w.policy(id); failure != nil {
		return nil, failure
	}
	g, failure := w.group(groupID, "ResourceNotFound.GroupNotExist")
	if failure != nil {
		return nil, failure
	}
	if attach {
		if _, ok := g.policies[id]; !ok {
			g.policies[id] = time.Now()
		}
	} else {
		delete(g.policies, id)
	}
	return map[string]any{}, nil
}

func listAttachedGroupPolicies(w *world, p params) (map[string]any, *apiError) {
	groupID, failure := p.uint("TargetGroupId", true)
	if failure != nil {
		return nil, failure
	}
	page, rp, failure := p.paging()
	if failure != nil {
		return nil, failure
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	g, failure := w.group(groupID, "ResourceNotFound.GroupNotExist")
	if failure != nil {
		return nil, failure
	}
	total, list := attached(w, g.policies, page, rp)
	return map[string]any{"TotalNum": total, "List": list}, nil
}

// membership resolves AddUserToGroup's and RemoveUserFromGroup's Info list, every pair before
// any is applied.
func membership(w *world, p params, missingGroup string) ([]*group, []*user, *apiError) {
	info, failure := p.objects("Info", true)
	if failure != nil {
		return nil, nil, failure
	}
	var groups []*group
	var users []*user
	for _, item := range info {
		groupID, failure := item.uint("GroupId", true)
		if failure != nil {
			return nil, nil, failure
		}
		g, failure := w.group(groupID, missingGroup)
		if failure != nil {
			return nil, nil, failure
		}
		var u *user
		switch {
		case item.has("Uin"):
			uin, failure := item.uint("Uin", true)
			if failure != nil {
				return nil, nil, failure
			}
			u = w.uins[uin]
		case item.has("Uid"):
			uid, failure := item.uint("Uid", true)
			if failure != nil {
				return nil, nil, failure
			}
			for _, candidate := range w.users {
				if candidate.uid == uid {
					u = candidate
				}
			}
		default:
			return nil, nil, &apiError{"InvalidParameter.UserUinAndUinNotAllNull", "Give either `Uid` or `Uin`."}
		}
		if u == nil {
			return nil, nil, &apiError{"ResourceNotFound.UserNotExist", "The user does not exist."}
		}
		groups, users = append(groups, g), append(users, u)
	}
	return groups, users, nil
}

func addUserToGroup(w *world, p params) (map[string]any, *apiError) {
	w.mu.Lock()
	defer w.mu.Unlock()
	groups, users, failure := membership(w, p, "InvalidParameter.GroupNotExist")
	if failure != nil {
		return nil, failure
	}
	now := time.Now()
	for i, g := range groups {
		if _, ok := g.members[users[i].uin]; !ok {
			g.members[users[i].uin] = now
			users[i].groups[g.id] = now
		}
	}
	return map[string]any{}, nil
}

func removeUserFromGroup(w *world, p params) (map[string]any, *apiError) {
	w.mu.Lock()
	defer w.mu.Unlock()
	groups, users, failure := membership(w, p, "ResourceNotFound.UserNotExist")
	if failure != nil {
		return nil, failure
	}
	for i, g := range groups {
		delete(g.members, users[i].uin)
		delete(users[i].groups, g.id)
	}
	return map[string]any{}, nil
}

func listGroupsForUser(w *world, p params) (map[string]any, *apiError) {
	page, rp, failure := p.paging()
	if failure != nil {
		return nil, failure
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	var u *user
	switch {
	case p.has("SubUin"):
		uin, failure := p.uint("SubUin", true)
		if failure != nil {
			return nil, failure
		}
		u = w.uins[uin]
	case p.has("Uid"):
		uid, failure := p.uint("Uid", true)
		if failure != nil {
			return nil, failure
		}
		for _, candidate := range w.users {
			if candidate.uid == uid {
				u = candidate
			}
		}
	default:
		return nil, &apiError{"InvalidParameter.UserUinAndUinNotAllNull", "Give either `Uid` or `SubUin`."}
	}
	if u == nil {
		return nil, &apiError{"ResourceNotFound.UserNotExist", "The user does not exist."}
	}
	rows := sortedGroups(w, func(g *group) bool { _, ok := u.groups[g.id]; return ok })
	return groupPage(rows, page, rp), nil
}

func listUsersForGroup(w *world, p params) (map[string]any, *apiError) {
	groupID, failure := p.uint("GroupId", true)
	if failure != nil {
		return nil, failure
	}
	page, rp, failure := p.paging()
	if failure != nil {
		return nil, failure
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	g, failure := w.group(groupID, "ResourceNotFound.GroupNotExist")
	if failure != nil {
		return nil, failure
	}
	var members []*user
	for uin := range g.members {
		if u := w.uins[uin]; u != nil {
			members = append(members, u)
		}
	}
	sort.Slice(members, func(i, j int) bool { return members[i].uin < members[j].uin })
	info := []map[string]any{}
	for _, u := range pageOf(members, page, rp) {
		info = append(info, memberView(u, g.members[u.uin]))
	}
	return map[string]any{"TotalNum": len(members), "UserInfo": info}, nil
}
