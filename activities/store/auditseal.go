package store

import (
	"context"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"tandem/activities/envelope"
)

// PersonalDetails are the audit details that say something about a person:
// the order they bought, how they felt, the sensitive topic they raised
// (medical, a vulnerable customer), the name and digest of a file they
// sent. The chain never holds them in clear: on
// a case's entry they are sealed under the customer's data key, so an
// erasure makes them unreadable while the chain, which hashes the sealed
// bytes, still verifies. Everything else in the chain is a code, a number or
// a staff identifier.
var PersonalDetails = []string{"order_ref", "anger", "anxiety", "sadness", "negativity", "distress", "sensitive_topic", "field_values",
	"file_name", "sha256"}

// sealedPrefix marks a sealed detail: "sealed:<key ID>:<base64 nonce||ciphertext>".
const sealedPrefix = "sealed:"

// Withheld replaces a personal detail that could not be sealed: an entry
// with no case, or one written after the customer's key was destroyed, and
// a sealed detail read after that.
const Withheld = "withheld"

// sealPersonal seals e's personal details under the data key (keyID, dek);
// dek nil means there is none (withheld). Sealing is deterministic for a
// given entry and value, so a retried write is the same entry (invariant 8).
func sealPersonal(e *AuditEvent, keyID string, dek []byte) error {
	d, personal, err := personalDetails(e.Details)
	if err != nil || !personal {
		return err
	}
	for k, v := range d {
		s, ok := v.(string)
		if !ok || !slices.Contains(PersonalDetails, k) || strings.HasPrefix(s, sealedPrefix) || s == Withheld {
			continue
		}
		if dek == nil {
			d[k] = Withheld
			continue
		}
		ct, err := envelope.SealDeterministic(dek, []byte(s), auditDetailAAD(e, k), fmt.Appendf(nil, "%s\x00%s\x00%s", e.ID, k, s))
		if err != nil {
			return err
		}
		d[k] = sealedPrefix + keyID + ":" + base64.RawURLEncoding.EncodeToString(ct)
	}
	raw, err := json.Marshal(d) // map keys are sorted: stable bytes
	if err != nil {
		return err
	}
	e.Details = string(raw)
	return nil
}

func auditDetailAAD(e *AuditEvent, k string) []byte {
	return []byte("audit-detail:" + e.TenantID + ":" + e.CaseID + ":" + k)
}

// personalDetails parses details and says whether any personal detail is in
// clear.
func personalDetails(details string) (map[string]any, bool, error) {
	if !strings.Contains(details, `"`) {
		return nil, false, nil
	}
	var d map[string]any
	if err := json.Unmarshal([]byte(details), &d); err != nil {
		return nil, false, fmt.Errorf("audit details: %w", err)
	}
	for _, k := range PersonalDetails {
		if s, ok := d[k].(string); ok && !strings.HasPrefix(s, sealedPrefix) && s != Withheld {
			return d, true, nil
		}
	}
	return d, false, nil
}

// sealCaseDetails seals e's personal details under the key of its case's
// customer, looked up (an entry the API writes about a case).
func (s *Store) sealCaseDetails(ctx context.Context, e *AuditEvent) error {
	if _, personal, err := personalDetails(e.Details); err != nil || !personal {
		return err
	}
	if e.CaseID == "" {
		return sealPersonal(e, "", nil)
	}
	var keyID string
	err := s.db.WithContext(ctx).Raw(`SELECT key_id FROM payload_keys WHERE workflow_id = ?
		UNION ALL SELECT key_id FROM cases WHERE tenant_id = ? AND id::text = ? AND key_id IS NOT NULL LIMIT 1`,
		"case:"+e.TenantID+":"+e.CaseID, e.TenantID, e.CaseID).Row().Scan(&keyID)
	if errors.Is(err, sql.ErrNoRows) {
		return sealPersonal(e, "", nil)
	}
	if err != nil {
		return fmt.Errorf("read the case's data key: %w", err)
	}
	dek, err := s.DataKey(ctx, keyID)
	if errors.Is(err, ErrCustomerErased) {
		return sealPersonal(e, "", nil)
	}
	if err != nil {
		return err
	}
	return sealPersonal(e, keyID, dek)
}

// openPersonal opens the sealed details of events read for people to see
// (a case's timeline, its handoff); once the key is destroyed they read
// Withheld. Their hashes are of what is stored, so only listings shown to
// people open them, never verification or export.
func (s *Store) openPersonal(ctx context.Context, events []AuditEvent) error {
	keys := map[string][]byte{}
	for i := range events {
		e := &events[i]
		if !strings.Contains(e.Details, sealedPrefix) {
			continue
		}
		var d map[string]any
		if err := json.Unmarshal([]byte(e.Details), &d); err != nil {
			return fmt.Errorf("audit details: %w", err)
		}
		for k, v := range d {
			sealed, ok := v.(string)
			rest, found := strings.CutPrefix(sealed, sealedPrefix)
			if !ok || !found {
				continue
			}
			keyID, ct, _ := strings.Cut(rest, ":")
			dek, seen := keys[keyID]
			if !seen {
				var err error
				dek, err = s.DataKey(ctx, keyID)
				if err != nil && !errors.Is(err, ErrCustomerErased) {
					return err
				}
				keys[keyID] = dek
			}
			d[k] = Withheld
			raw, err := base64.RawURLEncoding.DecodeString(ct)
			if dek == nil || err != nil {
				continue
			}
			if plain, err := envelope.Open(dek, raw, auditDetailAAD(e, k)); err == nil {
				d[k] = string(plain)
			}
		}
		raw, err := json.Marshal(d)
		if err != nil {
			return err
		}
		e.Details = string(raw)
	}
	return nil
}
