// Command expvar-service is the live Go service of the scrape tests: it imports expvar, publishes
// a few variables, forces garbage collections at a steady rate (so that NumGC and PauseTotalNs
// grow between scrapes), and serves /debug/vars on loopback, optionally behind basic auth and TLS
// (mutual TLS with -client-ca). Its first line on stdout is the address it listens on.
//
// So that a test never waits for a collection by the clock, -gc-at-start N runs N collections
// before that line is printed (NumGC >= N in the first body), and -gc-per-request runs one before
// each body is written (NumGC grows between any two scrapes).
//
// The troubles `expvar-heap watch` tells apart, made on purpose: -leak keeps that many bytes a
// second for good (a leak: the heap the GC keeps grows); -churn allocates that many bytes a
// second of garbage (with a GOMEMLIMIT just over the live heap, the runtime collects over and
// over: GC thrashing); -no-memstats serves the published variables without memstats (as a
// handler that is not expvar's would).
//
//	expvar-service -listen 127.0.0.1:0 -gc-every 20ms
//	GOMEMLIMIT=12MiB expvar-service -churn 64MiB
package main

import (
	"crypto/subtle"
	"crypto/tls"
	"crypto/x509"
	"expvar"
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"runtime"
	"time"
)

var (
	listen       = flag.String("listen", "127.0.0.1:0", "address to listen on (loopback only)")
	gcEvery      = flag.Duration("gc-every", 0, "force a garbage collection this often (0: never)")
	user         = flag.String("user", "", "require basic auth with this user")
	password     = flag.String("password", "", "and this password (default: $EXPVAR_SERVICE_PASSWORD, which keeps it out of the cmdline that /debug/vars shows)")
	certFile     = flag.String("tls-cert", "", "serve HTTPS with this certificate (PEM)")
	keyFile      = flag.String("tls-key", "", "and this key (PEM)")
	clientCA     = flag.String("client-ca", "", "require client certificates signed by this CA (PEM)")
	note         = flag.String("note", "", "publish this text as the expvar string variable \"note\"")
	gcAtStart    = flag.Int("gc-at-start", 0, "run this many garbage collections before printing the address")
	gcPerRequest = flag.Bool("gc-per-request", false, "run a garbage collection before writing each body")
	leak         = flag.Int("leak", 0, "keep this many more bytes each second, for good")
	churn        = flag.Int("churn", 0, "allocate this many bytes each second that are garbage at once")
	noMemstats   = flag.Bool("no-memstats", false, "serve /debug/vars without memstats")
)

// leaked holds what -leak keeps; garbage the last of -churn's allocations (so that the compiler
// keeps them).
var (
	leaked  [][]byte
	garbage []byte
)

// sink keeps some allocations alive so that the heap has a live set.
var sink [][]byte

func main() {
	flag.Parse()
	if *password == "" {
		*password = os.Getenv("EXPVAR_SERVICE_PASSWORD")
	}
	requests := expvar.NewInt("requests_total")
	expvar.NewString("build_version").Set(runtime.Version())
	if *note != "" {
		expvar.NewString("note").Set(*note)
	}

	for i := 0; i < *gcAtStart; i++ {
		runtime.GC()
	}

	listener, err := net.Listen("tcp", *listen)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(listener.Addr().String())
	os.Stdout.Sync()

	if *gcEvery > 0 {
		go func() {
			for range time.Tick(*gcEvery) {
				sink = append(sink, make([]byte, 64<<10))
				if len(sink) > 64 {
					sink = sink[1:]
				}
				runtime.GC()
			}
		}()
	}

	// Both by the clock: every 10 ms, what is owed since the start (a goroutine that was not
	// scheduled for a while catches up), so that the rates hold on a busy machine.
	if *leak > 0 || *churn > 0 {
		go func() {
			start := time.Now()
			var kept, churned int64
			for range time.Tick(10 * time.Millisecond) {
				seconds := time.Since(start).Seconds()
				for owed := int64(seconds*float64(*leak)) - kept; owed > 0; owed -= 16 << 10 {
					chunk := make([]byte, 16<<10)
					for i := range chunk {
						chunk[i] = byte(i)
					}
					leaked = append(leaked, chunk)
					kept += 16 << 10
				}
				for owed := int64(seconds*float64(*churn)) - churned; owed > 0; owed -= 32 << 10 {
					garbage = make([]byte, 32<<10)
					churned += 32 << 10
				}
			}
		}()
	}

	vars := expvar.Handler()
	if *noMemstats {
		vars = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json; charset=utf-8")
			fmt.Fprintf(w, "{\n")
			first := true
			expvar.Do(func(kv expvar.KeyValue) {
				if kv.Key == "memstats" {
					return
				}
				if !first {
					fmt.Fprintf(w, ",\n")
				}
				first = false
				fmt.Fprintf(w, "%q: %s", kv.Key, kv.Value)
			})
			fmt.Fprintf(w, "\n}\n")
		})
	}
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if *user != "" {
			u, p, ok := r.BasicAuth()
			if !ok || subtle.ConstantTimeCompare([]byte(u), []byte(*user)) != 1 ||
				subtle.ConstantTimeCompare([]byte(p), []byte(*password)) != 1 {
				w.Header().Set("WWW-Authenticate", `Basic realm="expvar"`)
				http.Error(w, "unauthorized", http.StatusUnauthorized)
				return
			}
		}
		requests.Add(1)
		if *gcPerRequest {
			runtime.GC()
		}
		vars.ServeHTTP(w, r)
	})
	mux := http.NewServeMux()
	mux.Handle("/debug/vars", handler)
	server := &http.Server{Handler: mux}

	if *certFile == "" {
		log.Fatal(server.Serve(listener))
	}
	if *clientCA != "" {
		pem, err := os.ReadFile(*clientCA)
		if err != nil {
			log.Fatal(err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			log.Fatal("no certificate in -client-ca")
		}
		server.TLSConfig = &tls.Config{ClientCAs: pool, ClientAuth: tls.RequireAndVerifyClientCert}
	}
	log.Fatal(server.ServeTLS(listener, *certFile, *keyFile))
}
