package store_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"tandem/activities/store"
)

// BenchmarkSearch measures the search index on this machine, in one
// process against PostgreSQL:
//
//	go test -run '^$' -bench Search -benchtime 1x -timeout 3h ./activities/store/
//
// write: the projection's write of cases of ten customer messages, with
// the index and without it (alternating rounds of 200 cases), as
// milliseconds per message and their ratio. search: TANDEM_BENCH_SEARCH_CASES
// cases (100,000 by default) of ten messages each, of a tenth as many
// customers, written through the projection, then 300 searches of one or
// two words: p50 and p99. The words are drawn from a vocabulary of 5,000
// (English, Chinese, and made-up words standing for the rest) by Zipf's law,
// as text uses them; a search's words are a common one a third of the
// time, else one of the less common ranks, as people search for what
// tells a case apart.
func BenchmarkSearch(b *testing.B) {
	n := 100_000
	if v, err := strconv.Atoi(os.Getenv("TANDEM_BENCH_SEARCH_CASES")); err == nil && v > 0 {
		n = v
	}
	st := storetestNew(b)
	ctx := context.Background()
	write := func(i int, rng *rand.Rand) error {
		zipf := rand.NewZipf(rng, 1.07, 2, uint64(len(vocabulary)-1))
		id := uuid.NewString()
		at := time.Now().UTC()
		c := store.Case{TenantID: "acme", ID: id, WorkflowID: "case:acme:" + id, CustomerRef: "cust-" + strconv.Itoa(i%max(n/10, 1)),
			Subject: sentence(zipf, 5), Channel: "web_chat", Priority: "normal", Status: "ai_handling", LastSeq: 10,
			OpenedAt: at, UpdatedAt: at, ProjGen: 1, ProjEvent: 1}
		var msgs []store.Message
		for seq := int64(1); seq <= 10; seq++ {
			msgs = append(msgs, store.Message{TenantID: "acme", CaseID: id, Seq: seq, AuthorKind: "customer", Body: sentence(zipf, 14), CreatedAt: at})
		}
		_, err := st.RecordCase(ctx, c, msgs, nil)
		return err
	}
	b.Run("write", func(b *testing.B) {
		rng := rand.New(rand.NewPCG(1, 2))
		var on, off time.Duration
		for round := range 10 {
			for _, indexing := range []bool{round%2 == 0, round%2 != 0} {
				store.SetSearchIndexing(indexing)
				start := time.Now()
				for i := range 200 {
					if err := write(i, rng); err != nil {
						b.Fatal(err)
					}
				}
				if indexing {
					on += time.Since(start)
				} else {
					off += time.Since(start)
				}
			}
		}
		store.SetSearchIndexing(true)
		perMsg := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 / (5 * 200 * 10) }
		b.Logf("projection write per message: %.3f ms with the index, %.3f ms without: %.2f×", perMsg(on), perMsg(off), float64(on)/float64(off))
		b.ReportMetric(perMsg(on), "ms/msg-indexed")
		b.ReportMetric(perMsg(off), "ms/msg-unindexed")
		b.ReportMetric(float64(on)/float64(off), "indexed/unindexed")
	})
	b.Run(fmt.Sprintf("cases=%d", n), func(b *testing.B) {
		start := time.Now()
		var wg sync.WaitGroup
		errs := make(chan error, 4)
		var written atomic.Int64
		for w := range 4 {
			wg.Go(func() {
				rng := rand.New(rand.NewPCG(uint64(w), 7))
				for i := w; i < n; i += 4 {
					if err := write(i, rng); err != nil {
						errs <- fmt.Errorf("case %d: %w", i, err)
						return
					}
					// Fresh statistics as the tables grow, where autovacuum is
					// off (it is on this machine's PostgreSQL): plans made for
					// empty tables would scan the grown ones.
					if k := written.Add(1); k%5000 == 0 {
						st.Owner(b).Exec(`ANALYZE cases, messages, search_terms, data_keys`)
					}
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			b.Fatal(err)
		}
		var rows int64
		st.Owner(b).Raw(`SELECT count(*) FROM search_terms`).Scan(&rows)
		b.Logf("%d cases, %d messages written in %s; %d index rows", n, n*10, time.Since(start).Round(time.Second), rows)
		rng := rand.New(rand.NewPCG(3, 4))
		zipf := rand.NewZipf(rng, 1.07, 2, uint64(len(vocabulary)-1))
		word := func() string {
			if rng.IntN(3) == 0 {
				return vocabulary[zipf.Uint64()]
			}
			return vocabulary[50+rng.IntN(len(vocabulary)-50)]
		}
		var lat []time.Duration
		found := 0
		for range 300 {
			q := word()
			if rng.IntN(2) == 0 {
				q += " " + word()
			}
			t0 := time.Now()
			rows, _, err := st.SearchCases(ctx, "acme", q, store.ListFilter{Limit: 20})
			lat = append(lat, time.Since(t0))
			if err != nil {
				b.Fatalf("q=%q: %v", q, err)
			}
			found += len(rows)
		}
		slices.Sort(lat)
		p50, p99 := lat[len(lat)/2], lat[len(lat)*99/100]
		b.Logf("300 searches: p50 %.1f ms, p99 %.1f ms; %d cases found (at most 20 each)", ms(p50), ms(p99), found)
		b.ReportMetric(ms(p50), "search-p50-ms")
		b.ReportMetric(ms(p99), "search-p99-ms")
	})
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// sentence draws words of the vocabulary by their rank.
func sentence(zipf *rand.Zipf, words int) string {
	var sb strings.Builder
	for range words {
		if sb.Len() > 0 {
			sb.WriteByte(' ')
		}
		sb.WriteString(vocabulary[zipf.Uint64()])
	}
	return sb.String()
}

// vocabulary is real words of support messages, then made-up ones up to 5,000.
var vocabulary = func() []string {
	words := slices.Clone(realWords)
	for i := len(words); i < 5000; i++ {
		words = append(words, "w"+strconv.FormatInt(int64(i)*7919, 36)+"x")
	}
	return words
}()

var realWords = strings.Fields(`order parcel delivery refund payment card account password address invoice
	damaged broken missing late cancel return exchange replace tracking courier box item size colour price
	discount coupon voucher subscription renewal charge twice error login email phone number receipt warranty
	repair kettle lamp jacket shoes laptop charger cable battery screen headphones sofa table chair mattress
	monday tuesday friday weekend morning evening week month yesterday today tomorrow urgent again still never
	wrong different smaller bigger cheaper faster slow cold hot wet dirty cracked leaking scratched stained
	退款 订单 快递 包裹 地址 发票 损坏 取消 退货 换货 物流 付款 密码 账户 优惠 价格 电话 邮件 保修 维修
	电池 屏幕 耳机 沙发 椅子 床垫 周末 今天 明天 昨天 紧急 错误 太慢 破损 漏水 划痕`)
