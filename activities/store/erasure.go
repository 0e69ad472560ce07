package store

import (
	"cmp"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"tandem/activities/objects"
)

// LegalHold stops a case, or all of a customer's cases, from being erased.
type LegalHold struct {
	ID           string     `json:"id"`
	TenantID     string     `json:"tenant_id"`
	CaseID       *string    `json:"case_id,omitempty"`
	CustomerHash []byte     `json:"-"`
	Customer     bool       `gorm:"-" json:"customer"` // the hold is on a customer (who is not named here)
	Reason       string     `json:"reason"`
	PlacedBy     string     `json:"placed_by"`
	PlacedAt     time.Time  `json:"placed_at"`
	ReleasedBy   *string    `json:"released_by,omitempty"`
	ReleasedAt   *time.Time `json:"released_at,omitempty"`
}

// erased says the customer's data key was destroyed.
func (s *Store) erased(ctx context.Context, tenantID string, custHash []byte) (bool, error) {
	var erased bool
	err := s.db.WithContext(ctx).Raw(`SELECT EXISTS (SELECT 1 FROM data_keys WHERE tenant_id = ? AND customer_hash = ? AND destroyed_at IS NOT NULL)`,
		tenantID, custHash).Scan(&erased).Error
	if err != nil {
		return false, fmt.Errorf("read erasure: %w", err)
	}
	return erased, nil
}

// CustomerErased says the customer's personal data was erased: nothing more
// is written for them.
func (s *Store) CustomerErased(ctx context.Context, tenantID, customerRef string) (bool, error) {
	h, err := s.customerHash(ctx, tenantID, customerRef)
	if err != nil {
		return false, err
	}
	return s.erased(ctx, tenantID, h)
}

// CaseCustomerErased says the customer of a case was erased.
func (s *Store) CaseCustomerErased(ctx context.Context, tenantID, caseID string) (bool, error) {
	var erased bool
	err := s.db.WithContext(ctx).Raw(`SELECT EXISTS (SELECT 1 FROM cases c JOIN data_keys k ON k.tenant_id = c.tenant_id AND k.customer_hash = c.customer_hash
		WHERE c.tenant_id = ? AND c.id = ? AND k.destroyed_at IS NOT NULL)`, tenantID, caseID).Scan(&erased).Error
	if err != nil {
		return false, fmt.Errorf("read erasure: %w", err)
	}
	return erased, nil
}

// CasesOf lists all a customer's cases, oldest first.
func (s *Store) CasesOf(ctx context.Context, tenantID, customerRef string) ([]Case, error) {
	h, err := s.customerHash(ctx, tenantID, customerRef)
	if err != nil {
		return nil, err
	}
	var cases []Case
	err = s.db.WithContext(ctx).Where("tenant_id = ? AND customer_hash = ?", tenantID, h).Order("opened_at, id").Find(&cases).Error
	if err != nil {
		return nil, fmt.Errorf("list the customer's cases: %w", err)
	}
	return cases, nil
}

// lockTenantKeys serialises erasures and hold changes within a tenant, so a
// hold placed while an erasure runs is either seen by it or placed after it.
func (s *Store) lockTenantKeys(ctx context.Context, tenantID string) error {
	if _, err := s.customerHash(ctx, tenantID, ""); err != nil { // makes sure the row exists
		return err
	}
	var tk tenantKey
	return s.db.WithContext(ctx).Clauses(clause.Locking{Strength: "UPDATE"}).Where("tenant_id = ?", tenantID).Take(&tk).Error
}

// PlaceHold puts a legal hold on a case (caseID) or on a customer (customerRef).
func (s *Store) PlaceHold(ctx context.Context, tenantID, caseID, customerRef, reason, by string) (LegalHold, error) {
	var hold LegalHold
	err := s.InTx(ctx, func(tx *Store) error {
		if err := tx.lockTenantKeys(ctx, tenantID); err != nil {
			return err
		}
		id := make([]byte, 8)
		if _, err := rand.Read(id); err != nil {
			return err
		}
		hold = LegalHold{ID: "hold_" + hex.EncodeToString(id), TenantID: tenantID, Reason: reason, PlacedBy: by,
			PlacedAt: time.Now().UTC().Truncate(time.Microsecond)}
		if caseID != "" {
			if _, err := tx.GetCaseRow(ctx, tenantID, caseID); err != nil {
				return err
			}
			hold.CaseID = &caseID
		} else {
			h, err := tx.customerHash(ctx, tenantID, customerRef)
			if err != nil {
				return err
			}
			hold.CustomerHash, hold.Customer = h, true
		}
		return tx.db.WithContext(ctx).Create(&hold).Error
	})
	return hold, err
}

// ReleaseHold ends a hold; releasing a released hold changes nothing.
func (s *Store) ReleaseHold(ctx context.Context, tenantID, id, by string) (LegalHold, error) {
	var hold LegalHold
	err := s.InTx(ctx, func(tx *Store) error {
		if err := tx.lockTenantKeys(ctx, tenantID); err != nil {
			return err
		}
		err := tx.db.WithContext(ctx).Where("tenant_id = ? AND id = ?", tenantID, id).Take(&hold).Error
		if errors.Is(err, gorm.ErrRecordNotFound) {
			return NotFound("legal_hold")
		}
		if err != nil || hold.ReleasedAt != nil {
			return err
		}
		now := time.Now().UTC().Truncate(time.Microsecond)
		hold.ReleasedAt, hold.ReleasedBy = &now, &by
		return tx.db.WithContext(ctx).Model(&LegalHold{}).Where("id = ?", id).
			Updates(map[string]any{"released_at": now, "released_by": by}).Error
	})
	hold.Customer = hold.CustomerHash != nil
	return hold, err
}

// ListHolds returns the tenant's holds, active first, newest first.
func (s *Store) ListHolds(ctx context.Context, tenantID string) ([]LegalHold, error) {
	var holds []LegalHold
	err := s.db.WithContext(ctx).Where("tenant_id = ?", tenantID).
		Order("released_at IS NOT NULL, placed_at DESC").Find(&holds).Error
	for i := range holds {
		holds[i].Customer = holds[i].CustomerHash != nil
	}
	return holds, err
}

// CustomerHeld says a legal hold is on the customer or on one of their cases.
func (s *Store) CustomerHeld(ctx context.Context, tenantID, customerRef string) (bool, error) {
	h, err := s.customerHash(ctx, tenantID, customerRef)
	if err != nil {
		return false, err
	}
	return s.held(ctx, tenantID, h)
}

func (s *Store) held(ctx context.Context, tenantID string, custHash []byte) (bool, error) {
	var holds int64
	err := s.db.WithContext(ctx).Model(&LegalHold{}).
		Where("tenant_id = ? AND released_at IS NULL", tenantID).
		Where("customer_hash = ? OR case_id IN (SELECT id FROM cases WHERE tenant_id = ? AND customer_hash = ?)", custHash, tenantID, custHash).
		Count(&holds).Error
	if err != nil {
		return false, fmt.Errorf("check legal holds: %w", err)
	}
	return holds > 0, nil
}

// EraseCustomer crypto-shreds a customer: it destroys every data key of the
// customer, so their messages and references can never be read again, while
// every row, and the audit chain, stays in place. It refuses with
// ErrLegalHold while a hold is on the customer or on any of their cases.
// It returns the IDs of the keys it destroyed (none when already erased).
func (s *Store) EraseCustomer(ctx context.Context, tenantID, customerRef string) ([]string, error) {
	var destroyed []string
	err := s.InTx(ctx, func(tx *Store) error {
		if err := tx.lockTenantKeys(ctx, tenantID); err != nil {
			return err
		}
		h, err := tx.customerHash(ctx, tenantID, customerRef)
		if err != nil {
			return err
		}
		if held, err := tx.held(ctx, tenantID, h); err != nil || held {
			return cmp.Or(err, ErrLegalHold)
		}
		destroyed = nil
		if err := tx.db.WithContext(ctx).Raw(`UPDATE data_keys SET wrapped_key = NULL, destroyed_at = ?
			WHERE tenant_id = ? AND customer_hash = ? AND destroyed_at IS NULL RETURNING id`, time.Now().UTC(), tenantID, h).Scan(&destroyed).Error; err != nil {
			return fmt.Errorf("destroy data keys: %w", err)
		}
		if err := tx.pseudonymiseOrders(ctx, tenantID, h); err != nil {
			return err
		}
		return tx.clearTraces(ctx, tenantID, h)
	})
	if err == nil {
		for _, id := range destroyed {
			s.unwrapped.search.Delete(id)
		}
	}
	return destroyed, err
}

// clearTraces removes what is left of the customer in clear or under no
// key of theirs: refunds' evidence (free text: references, links), the
// hash of their opening requests (an unkeyed digest of what they wrote,
// which a guess could be checked against), the idempotency keys their
// front end chose for their messages, their cases' search terms
// (blinded under their destroyed key, but of no use kept), and their
// attachments' sealed bytes and names (type and size stay), the bytes in
// the object store once this commits. A retried opening then finds the
// key erased (409 customer_erased).
func (s *Store) clearTraces(ctx context.Context, tenantID string, custHash []byte) error {
	db := s.db.WithContext(ctx)
	theirs := `case_id IN (SELECT id FROM cases WHERE tenant_id = ? AND customer_hash = ?)`
	for _, q := range []struct{ what, sql string }{
		{"refunds' evidence", `UPDATE refunds SET evidence = '[]'::jsonb WHERE tenant_id = ? AND ` + theirs},
		{"opening requests' hashes", `UPDATE idempotency_keys SET request_hash = '` + erasedRequestHash + `' WHERE tenant_id = ? AND ` + theirs},
		{"messages' keys", `UPDATE messages SET client_key = NULL WHERE tenant_id = ? AND client_key IS NOT NULL AND ` + theirs},
		{"updates' keys", `DELETE FROM update_keys WHERE tenant_id = ? AND ` + theirs},
		{"search terms", `DELETE FROM search_terms WHERE tenant_id = ? AND ` + theirs},
		{"attachments' bytes", `DELETE FROM attachment_blobs b USING attachments a WHERE b.tenant_id = a.tenant_id AND b.id = a.id
			AND a.tenant_id = ? AND a.` + theirs},
		{"attachments' names", `UPDATE attachments SET meta_ct = NULL WHERE tenant_id = ? AND ` + theirs},
	} {
		if err := db.Exec(q.sql, tenantID, tenantID, custHash).Error; err != nil {
			return fmt.Errorf("clear %s: %w", q.what, err)
		}
	}
	if s.objects == nil {
		return nil
	}
	var cases []string
	if err := db.Raw(`SELECT id FROM cases WHERE tenant_id = ? AND customer_hash = ?`, tenantID, custHash).Scan(&cases).Error; err != nil {
		return fmt.Errorf("list the customer's cases: %w", err)
	}
	for i, id := range cases {
		cases[i] = objects.CasePrefix(tenantID, id)
	}
	return s.doomObjects(ctx, tenantID, cases...)
}

// erasedRequestHash stands for an erased customer's opening request.
const erasedRequestHash = "erased"

// pseudonymiseOrders renames the customer's orders, in the order book and in
// the refunds against them, to random references, and unlinks them from the
// customer: the money stays accounted for (amounts, currencies, the ledger),
// but no order number leads back to the person.
func (s *Store) pseudonymiseOrders(ctx context.Context, tenantID string, custHash []byte) error {
	db := s.db.WithContext(ctx)
	pseudonym := func() (string, []byte, error) {
		b := make([]byte, 12)
		if _, err := rand.Read(b); err != nil {
			return "", nil, err
		}
		unlinked := sha256.Sum256(b) // matches no customer's blind index
		return erasedOrderPrefix + hex.EncodeToString(b), unlinked[:], nil
	}
	var own []string
	if err := db.Raw(`SELECT order_ref FROM orders WHERE tenant_id = ? AND customer_hash = ?`, tenantID, custHash).Scan(&own).Error; err != nil {
		return fmt.Errorf("list the customer's orders: %w", err)
	}
	for _, ref := range own {
		p, unlinked, err := pseudonym()
		if err != nil {
			return err
		}
		if err := db.Exec(`UPDATE orders SET order_ref = ?, customer_hash = ? WHERE tenant_id = ? AND order_ref = ?`,
			p, unlinked, tenantID, ref).Error; err != nil {
			return fmt.Errorf("pseudonymise an order: %w", err)
		}
		if err := db.Exec(`UPDATE refunds SET order_ref = ? WHERE tenant_id = ? AND order_ref = ?`, p, tenantID, ref).Error; err != nil {
			return fmt.Errorf("pseudonymise an order's refunds: %w", err)
		}
	}
	// What the customer asked about that is not their order (refused
	// requests): renamed in their refunds only.
	var asked []string
	if err := db.Raw(`SELECT DISTINCT order_ref FROM refunds WHERE tenant_id = ? AND order_ref NOT LIKE ?
		AND case_id IN (SELECT id FROM cases WHERE tenant_id = ? AND customer_hash = ?)`,
		tenantID, erasedOrderPrefix+"%", tenantID, custHash).Scan(&asked).Error; err != nil {
		return fmt.Errorf("list the customer's refunds: %w", err)
	}
	for _, ref := range asked {
		p, _, err := pseudonym()
		if err != nil {
			return err
		}
		if err := db.Exec(`UPDATE refunds SET order_ref = ? WHERE tenant_id = ? AND order_ref = ?
			AND case_id IN (SELECT id FROM cases WHERE tenant_id = ? AND customer_hash = ?)`, p, tenantID, ref, tenantID, custHash).Error; err != nil {
			return fmt.Errorf("pseudonymise a refund's order: %w", err)
		}
	}
	return nil
}

// erasedOrderPrefix begins the reference an erased customer's order is renamed to.
const erasedOrderPrefix = "erased-"
