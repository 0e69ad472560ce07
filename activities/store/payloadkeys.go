package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"gorm.io/gorm"
)

// The workflows whose payloads are a customer's: cases and their refunds
// (workflows.CaseWorkflowID, workflows.RefundWorkflowID). Others, such as the
// benchmark's, are sealed with the deployment's payload key and never looked up.
var customerWorkflowPrefixes = []string{"case:", "refund:"}

// ErrNoPayloadKey: a customer's workflow has no data key bound, so nothing
// of it may be sealed (the API binds one before starting it).
var ErrNoPayloadKey error = keyGone("no payload key is bound to this customer's workflow")

// BindCaseKey makes the customer's data key the one a case's workflow seals
// its payloads with, creating the key if the customer has none. It must run
// before the workflow is started; ErrCustomerErased for an erased customer.
func (s *Store) BindCaseKey(ctx context.Context, tenantID, customerRef, workflowID string) error {
	h, err := s.customerHash(ctx, tenantID, customerRef)
	if err != nil {
		return err
	}
	keyID, _, err := s.customerKey(ctx, tenantID, h)
	if err != nil {
		return err
	}
	err = s.db.WithContext(ctx).Exec(`INSERT INTO payload_keys (workflow_id, tenant_id, key_id) VALUES (?, ?, ?) ON CONFLICT DO NOTHING`,
		workflowID, tenantID, keyID).Error
	if err != nil {
		return fmt.Errorf("bind the case's payload key: %w", err)
	}
	return nil
}

// BindChildKey gives a child workflow (a refund) the payload key of its
// parent (the case). A parent without one (opened before payload keys were
// bound) leaves the child with the deployment's payload key.
func (s *Store) BindChildKey(ctx context.Context, parentID, childID string) error {
	err := s.db.WithContext(ctx).Exec(`INSERT INTO payload_keys (workflow_id, tenant_id, key_id)
		SELECT ?, tenant_id, key_id FROM payload_keys WHERE workflow_id = ? ON CONFLICT DO NOTHING`, childID, parentID).Error
	if err != nil {
		return fmt.Errorf("bind the payload key of %s: %w", childID, err)
	}
	return nil
}

// WorkflowKey implements codec.Keys: the live data key bound to the
// workflow; ErrCustomerErased once it was destroyed, ErrNoPayloadKey for a
// customer's workflow with none bound. Other workflows have none (ok false).
func (s *Store) WorkflowKey(ctx context.Context, workflowID string) (string, []byte, bool, error) {
	if !customerWorkflow(workflowID) {
		return "", nil, false, nil
	}
	var keyID string
	err := s.db.WithContext(ctx).Raw(`SELECT key_id FROM payload_keys WHERE workflow_id = ?`, workflowID).Row().Scan(&keyID)
	if err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			// Never the deployment's key instead: what the workflow writes
			// would outlive its customer's erasure.
			return "", nil, false, fmt.Errorf("%w: %s", ErrNoPayloadKey, workflowID)
		}
		return "", nil, false, fmt.Errorf("read the payload key of %s: %w", workflowID, err)
	}
	key, err := s.DataKey(ctx, keyID)
	return keyID, key, err == nil, err
}

// DataKey implements codec.Keys: a customer's data key by ID;
// ErrCustomerErased once it was destroyed.
func (s *Store) DataKey(ctx context.Context, id string) ([]byte, error) {
	if s.keys == nil {
		return nil, ErrNoKeyring
	}
	var dk dataKey
	err := s.db.WithContext(ctx).Where("id = ?", id).Take(&dk).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return nil, fmt.Errorf("data key %s: %w", id, keyGone("no such data key"))
	}
	if err != nil {
		return nil, fmt.Errorf("read data key: %w", err)
	}
	if dk.WrappedKey == nil {
		return nil, ErrCustomerErased
	}
	return s.keys.Unwrap(dk.MasterKeyID, dk.WrappedKey, "data-key:"+dk.ID)
}

func customerWorkflow(id string) bool {
	for _, p := range customerWorkflowPrefixes {
		if strings.HasPrefix(id, p) {
			return true
		}
	}
	return false
}
