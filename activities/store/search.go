package store

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"
	"sync"

	"gorm.io/gorm"

	"tandem/activities/ai/lang"
	"tandem/workflows"
)

// The search index maps a case's words to the case without holding any of
// them in clear: each term (lang.Analyzer's: English stems, Chinese
// characters and character pairs) is stored as an HMAC under a key derived
// from the customer's data key, with how often the case uses it. Staff
// search by computing the query's terms under each live customer key of
// the tenant; an erased customer's key is gone, so nothing of theirs can be
// matched, and their rows are deleted with the erasure.
//
// A row also carries the term's tag: 10 bits of an HMAC under the
// tenant's index key, the same for every customer. A search reads the rows
// of its terms' tags (a 1,024th of the index each) and keeps those whose
// term matches under their customer's key, instead of looking up every
// customer's key one by one.

// termBytes is how much of a term's HMAC the index keeps: 128 bits, as
// collision-free as the index needs and half the size.
const termBytes = 16

// tagBits is how many of a tag's bits the index keeps: a tag stands for
// about a 1,024th of the vocabulary.
const tagBits = 10

// MaxSearchTerms bounds the distinct terms of one query.
const MaxSearchTerms = 12

// ErrEmptySearch refuses a query with no word the index keeps (only stop
// words or punctuation).
var ErrEmptySearch = errors.New("the query has no word to search for")

var (
	analyzerOnce sync.Once
	analyzerVal  lang.Analyzer
	analyzerErr  error
)

func searchAnalyzer() (lang.Analyzer, error) {
	analyzerOnce.Do(func() { analyzerVal, analyzerErr = lang.NewAnalyzer() })
	return analyzerVal, analyzerErr
}

// searchKey is the key a customer's terms are blinded under, derived from
// their data key.
func searchKey(dek []byte) []byte {
	mac := hmac.New(sha256.New, dek)
	mac.Write([]byte("tandem search terms v1"))
	return mac.Sum(nil)
}

func blindTerm(key []byte, term string) []byte {
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(term))
	return mac.Sum(nil)[:termBytes]
}

// tagKey is the tenant's key for terms' tags, derived from its index key.
func tagKey(tenantIndexKey []byte) []byte {
	mac := hmac.New(sha256.New, tenantIndexKey)
	mac.Write([]byte("tandem search tags v1"))
	return mac.Sum(nil)
}

func termTag(key []byte, term string) int {
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(term))
	return int(binary.BigEndian.Uint16(mac.Sum(nil)) >> (16 - tagBits))
}

// termCounts counts the index terms of texts.
func termCounts(texts ...string) (map[string]int, error) {
	a, err := searchAnalyzer()
	if err != nil {
		return nil, err
	}
	counts := map[string]int{}
	for _, t := range texts {
		for _, term := range a.Terms(t) {
			counts[term]++
		}
	}
	return counts, nil
}

// searchIndexing is off only in a benchmark's baseline.
var searchIndexing = true

// indexMessages adds the terms of messages written for the first time (and
// of the subject, with the opening message) to the case's entries; tags is
// the tenant's tag key.
func indexMessages(ctx context.Context, db *gorm.DB, c Case, keyID string, dek, tags []byte, msgs []Message, fresh []int64) error {
	if !searchIndexing {
		return nil
	}
	var texts []string
	for _, m := range msgs {
		if !slices.Contains(fresh, m.Seq) || !searchable(m) {
			continue
		}
		texts = append(texts, m.Body)
		if m.Seq == 1 && c.Subject != "" {
			texts = append(texts, c.Subject)
		}
	}
	if len(texts) == 0 {
		return nil
	}
	counts, err := termCounts(texts...)
	if err != nil {
		return err
	}
	return addTerms(ctx, db, c.TenantID, c.ID, keyID, searchKey(dek), tags, counts)
}

// searchable says whether the index takes a message: what the customer and
// the staff wrote (replies and notes), not what the AI and the system
// generate from the knowledge base alike in many cases.
func searchable(m Message) bool {
	return m.Body != "" && (m.AuthorKind == workflows.AuthorCustomer || m.AuthorKind == workflows.AuthorAgent)
}

// addTerms adds counts to the case's entries, in batches.
func addTerms(ctx context.Context, db *gorm.DB, tenantID, caseID, keyID string, key, tags []byte, counts map[string]int) error {
	terms := slices.Sorted(maps.Keys(counts)) // a fixed order: two writers of a case lock its rows alike
	const batch = 500
	for len(terms) > 0 {
		n := min(batch, len(terms))
		var values strings.Builder
		args := make([]any, 0, n*6)
		for i, term := range terms[:n] {
			if i > 0 {
				values.WriteString(", ")
			}
			values.WriteString("(?, ?, ?, ?, ?, ?)")
			args = append(args, tenantID, keyID, blindTerm(key, term), termTag(tags, term), caseID, counts[term])
		}
		terms = terms[n:]
		err := db.WithContext(ctx).Exec(`INSERT INTO search_terms (tenant_id, key_id, term, tag, case_id, hits) VALUES `+values.String()+`
			ON CONFLICT (tenant_id, key_id, term, case_id) DO UPDATE SET hits = search_terms.hits + excluded.hits`, args...).Error
		if err != nil {
			return fmt.Errorf("index terms: %w", err)
		}
	}
	return nil
}

// liveSearchKeys returns the tenant's live customer keys (only the
// customer's, when custHash is set) as search keys, by key ID.
func (s *Store) liveSearchKeys(ctx context.Context, tenantID string, custHash []byte) (map[string][]byte, error) {
	if s.keys == nil {
		return nil, ErrNoKeyring
	}
	q := s.db.WithContext(ctx).Model(&dataKey{}).Where("tenant_id = ? AND destroyed_at IS NULL", tenantID)
	if custHash != nil {
		q = q.Where("customer_hash = ?", custHash)
	}
	var rows []dataKey
	if err := q.Select("id", "wrapped_key", "master_key_id").Find(&rows).Error; err != nil {
		return nil, fmt.Errorf("read data keys: %w", err)
	}
	out := make(map[string][]byte, len(rows))
	for _, dk := range rows {
		if k, ok := s.unwrapped.search.Load(dk.ID); ok {
			out[dk.ID] = k.([]byte)
			continue
		}
		dek, err := s.keys.Unwrap(dk.MasterKeyID, dk.WrappedKey, "data-key:"+dk.ID)
		if err != nil {
			return nil, err
		}
		k := searchKey(dek)
		s.unwrapped.search.Store(dk.ID, k)
		out[dk.ID] = k
	}
	return out, nil
}

// SearchCases returns the cases the filter passes whose messages, notes or
// subject hold every term of the query, those that use its terms most
// first (ties in a fixed order); the cursor of the next page ("" on the last).
func (s *Store) SearchCases(ctx context.Context, tenantID, query string, f ListFilter) ([]Case, string, error) {
	counts, err := termCounts(query)
	if err != nil {
		return nil, "", err
	}
	terms := slices.Sorted(maps.Keys(counts))
	if len(terms) == 0 {
		return nil, "", ErrEmptySearch
	}
	terms = terms[:min(len(terms), MaxSearchTerms)]
	offset := 0
	if f.Cursor != "" {
		if offset, err = decodeSearchCursor(f.Cursor); err != nil {
			return nil, "", ErrBadCursor
		}
	}
	var custHash []byte
	if f.CustomerRef != "" {
		if custHash, err = s.customerHash(ctx, tenantID, strings.TrimSpace(f.CustomerRef)); err != nil {
			return nil, "", err
		}
	}
	keys, err := s.liveSearchKeys(ctx, tenantID, custHash)
	if err != nil || len(keys) == 0 {
		return nil, "", err
	}
	idx, err := s.tenantIndexKey(ctx, tenantID)
	if err != nil {
		return nil, "", err
	}
	var tags []int
	for _, term := range terms {
		tags = append(tags, termTag(tagKey(idx), term))
	}
	// The query's terms under every key, as three parallel lists.
	var keyIDs, blinded, termNos strings.Builder
	for _, id := range slices.Sorted(maps.Keys(keys)) {
		for i, term := range terms {
			if keyIDs.Len() > 0 {
				keyIDs.WriteByte(',')
				blinded.WriteByte(',')
				termNos.WriteByte(',')
			}
			keyIDs.WriteString(id)
			blinded.WriteString(hex.EncodeToString(blindTerm(keys[id], term)))
			termNos.WriteString(strconv.Itoa(i))
		}
	}
	q, err := s.listQuery(ctx, tenantID, f)
	if err != nil {
		return nil, "", err
	}
	var rows []Case
	// Without a filter on the cases, the page is decided by the matches
	// alone: only its cases are read. A filter must see every match.
	top := math.MaxInt32
	if f.unfiltered() {
		top = offset + f.Limit + 1
	}
	// The rows of the terms' tags, then those whose term is the query's
	// under their customer's key: a hash join on the keys' terms.
	err = q.Select("cases.*").Joins(`JOIN (
			WITH candidates AS MATERIALIZED (
				SELECT case_id, key_id, term, hits FROM search_terms WHERE tenant_id = ? AND tag IN ?
			)
			SELECT c.case_id, sum(c.hits) AS weight
			FROM candidates c
			JOIN unnest(string_to_array(?, ','), string_to_array(?, ','), string_to_array(?, ',')::int[]) AS wanted(key_id, term, term_no)
				ON c.key_id = wanted.key_id AND c.term = decode(wanted.term, 'hex')
			GROUP BY c.case_id HAVING count(DISTINCT wanted.term_no) = ?
			ORDER BY weight DESC, c.case_id DESC LIMIT ?
		) found ON found.case_id = cases.id`, tenantID, tags, keyIDs.String(), blinded.String(), termNos.String(), len(terms), top).
		Order("found.weight DESC, cases.id DESC").Offset(offset).Limit(f.Limit + 1).Find(&rows).Error
	if err != nil {
		return nil, "", fmt.Errorf("search cases: %w", err)
	}
	if err := s.openCases(ctx, rows); err != nil {
		return nil, "", err
	}
	next := ""
	if len(rows) > f.Limit {
		rows, next = rows[:f.Limit], encodeSearchCursor(offset+f.Limit)
	}
	return rows, next, nil
}

func encodeSearchCursor(offset int) string {
	return base64.RawURLEncoding.EncodeToString([]byte("search:" + strconv.Itoa(offset)))
}

func decodeSearchCursor(cursor string) (int, error) {
	raw, err := base64.RawURLEncoding.DecodeString(cursor)
	if err != nil {
		return 0, err
	}
	n, ok := strings.CutPrefix(string(raw), "search:")
	if !ok {
		return 0, ErrBadCursor
	}
	offset, err := strconv.Atoi(n)
	if err != nil || offset < 0 || offset > 100_000 {
		return 0, ErrBadCursor
	}
	return offset, nil
}

// ReindexCase rebuilds a case's entries from its messages, notes and
// subject (`tandem search reindex`): for a case whose customer was erased,
// or whose content was purged, it leaves none.
func (s *Store) ReindexCase(ctx context.Context, tenantID, caseID string) error {
	return s.InTx(ctx, func(tx *Store) error {
		db := tx.db.WithContext(ctx)
		if err := db.Exec(`DELETE FROM search_terms WHERE tenant_id = ? AND case_id = ?`, tenantID, caseID).Error; err != nil {
			return fmt.Errorf("clear the case's terms: %w", err)
		}
		var c Case
		if err := db.Where("tenant_id = ? AND id = ?", tenantID, caseID).Take(&c).Error; err != nil {
			return fmt.Errorf("read case: %w", err)
		}
		if c.PurgedAt != nil || c.KeyID == nil {
			return nil
		}
		var dk dataKey
		if err := db.Where("id = ? AND destroyed_at IS NULL", *c.KeyID).Take(&dk).Error; errors.Is(err, gorm.ErrRecordNotFound) {
			return nil // erased
		} else if err != nil {
			return fmt.Errorf("read data key: %w", err)
		}
		if err := tx.openCases(ctx, []Case{c}); err != nil {
			return err
		}
		var msgs []Message
		if err := db.Where("tenant_id = ? AND case_id = ?", tenantID, caseID).Order("seq").Find(&msgs).Error; err != nil {
			return fmt.Errorf("read messages: %w", err)
		}
		if err := tx.openMessages(ctx, tenantID, msgs); err != nil {
			return err
		}
		texts := []string{c.Subject}
		for _, m := range msgs {
			if !m.Erased && searchable(m) {
				texts = append(texts, m.Body)
			}
		}
		counts, err := termCounts(texts...)
		if err != nil {
			return err
		}
		dek, err := tx.keys.Unwrap(dk.MasterKeyID, dk.WrappedKey, "data-key:"+dk.ID)
		if err != nil {
			return err
		}
		idx, err := tx.tenantIndexKey(ctx, tenantID)
		if err != nil {
			return err
		}
		return addTerms(ctx, db, tenantID, caseID, dk.ID, searchKey(dek), tagKey(idx), counts)
	})
}

// CaseIDs lists the IDs of a tenant's cases in order, a page at a time
// after the ID given ("" for the first).
func (s *Store) CaseIDs(ctx context.Context, tenantID, after string, limit int) ([]string, error) {
	var ids []string
	q := s.db.WithContext(ctx).Model(&Case{}).Where("tenant_id = ?", tenantID)
	if after != "" {
		q = q.Where("id > ?", after)
	}
	if err := q.Order("id").Limit(limit).Pluck("id", &ids).Error; err != nil {
		return nil, fmt.Errorf("list case IDs: %w", err)
	}
	return ids, nil
}

// unfiltered says whether the filter passes every case of the tenant.
func (f ListFilter) unfiltered() bool {
	return f.Status == "" && f.Queue == "" && f.Agent == nil && f.CustomerRef == "" && f.Channels == nil &&
		len(f.Tags) == 0 && len(f.Fields) == 0 && f.OpenedFrom == nil && f.OpenedTo == nil
}
