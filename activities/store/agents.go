package store

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"tandem/workflows"
)

// Agent is a person who works cases, as routing sees them.
type Agent struct {
	TenantID  string    `json:"tenant_id"`
	AgentID   string    `json:"agent_id"`
	Status    string    `json:"status"` // available, away, offline
	Capacity  int       `json:"capacity"`
	Languages []string  `json:"languages" gorm:"serializer:json"` // none: any
	Queues    []string  `json:"queues" gorm:"-"`
	UpdatedAt time.Time `json:"updated_at"`
	UpdatedBy string    `json:"updated_by"`
}

// SetAvailability records an agent's status and capacity.
func (s *Store) SetAvailability(ctx context.Context, a Agent) (Agent, error) {
	a.UpdatedAt = time.Now().UTC().Truncate(time.Microsecond)
	err := s.db.WithContext(ctx).Clauses(clause.OnConflict{
		Columns:   []clause.Column{{Name: "tenant_id"}, {Name: "agent_id"}},
		DoUpdates: clause.AssignmentColumns([]string{"status", "capacity", "languages", "updated_at", "updated_by"}),
	}).Create(&a).Error
	if err != nil {
		return Agent{}, fmt.Errorf("set availability: %w", err)
	}
	return s.GetAgent(ctx, a.TenantID, a.AgentID)
}

// SetAgentQueues replaces the queues an agent works.
func (s *Store) SetAgentQueues(ctx context.Context, tenantID, agentID string, queues []string) error {
	return s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if err := tx.Exec("DELETE FROM agent_queues WHERE tenant_id = ? AND agent_id = ?", tenantID, agentID).Error; err != nil {
			return fmt.Errorf("clear agent queues: %w", err)
		}
		for _, q := range queues {
			if err := tx.Exec("INSERT INTO agent_queues (tenant_id, agent_id, queue) VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
				tenantID, agentID, q).Error; err != nil {
				return fmt.Errorf("add agent queue: %w", err)
			}
		}
		return nil
	})
}

// GetAgent returns an agent with their queues. An agent with queues but no
// availability yet is offline with no capacity; one with neither is not found.
func (s *Store) GetAgent(ctx context.Context, tenantID, agentID string) (Agent, error) {
	queues, err := s.AgentQueues(ctx, tenantID, agentID)
	if err != nil {
		return Agent{}, err
	}
	var a Agent
	err = s.db.WithContext(ctx).Where("tenant_id = ? AND agent_id = ?", tenantID, agentID).Take(&a).Error
	switch {
	case errors.Is(err, gorm.ErrRecordNotFound) && len(queues) == 0:
		return Agent{}, NotFound("agent")
	case errors.Is(err, gorm.ErrRecordNotFound):
		a = Agent{TenantID: tenantID, AgentID: agentID, Status: "offline"}
	case err != nil:
		return Agent{}, fmt.Errorf("read agent: %w", err)
	}
	a.Queues = queues
	if a.Queues == nil {
		a.Queues = []string{}
	}
	return a, nil
}

// ListAgents returns the tenant's agents known by availability or queue, by
// ID, in two queries.
func (s *Store) ListAgents(ctx context.Context, tenantID string) ([]Agent, error) {
	var rows []Agent
	if err := s.db.WithContext(ctx).Where("tenant_id = ?", tenantID).Find(&rows).Error; err != nil {
		return nil, fmt.Errorf("list agents: %w", err)
	}
	var memberships []struct{ AgentID, Queue string }
	if err := s.db.WithContext(ctx).Table("agent_queues").Where("tenant_id = ?", tenantID).
		Order("queue").Find(&memberships).Error; err != nil {
		return nil, fmt.Errorf("list agent queues: %w", err)
	}
	queues := map[string][]string{}
	for _, m := range memberships {
		queues[m.AgentID] = append(queues[m.AgentID], m.Queue)
	}
	for i := range rows {
		rows[i].Queues = append([]string{}, queues[rows[i].AgentID]...)
		delete(queues, rows[i].AgentID)
	}
	for id, qs := range queues { // in queues, availability never set
		rows = append(rows, Agent{TenantID: tenantID, AgentID: id, Status: "offline", Queues: qs})
	}
	slices.SortFunc(rows, func(a, b Agent) int { return strings.Compare(a.AgentID, b.AgentID) })
	return rows, nil
}

// PickAgent chooses whom to offer a queued case: an available agent who
// works the queue, answers in the language (or lists none) and has room
// under their capacity, the least loaded first (cases they hold or have on
// offer), then by ID; never one in exclude. "" when nobody fits.
func (s *Store) PickAgent(ctx context.Context, tenantID, queue, language string, exclude []string) (string, error) {
	if len(exclude) == 0 {
		exclude = []string{""} // agent IDs are never empty; NOT IN () is not SQL
	}
	var ids []string
	err := s.db.WithContext(ctx).Raw(`
SELECT a.agent_id
FROM agents a
JOIN agent_queues q ON q.tenant_id = a.tenant_id AND q.agent_id = a.agent_id AND q.queue = @queue
CROSS JOIN LATERAL (
    SELECT count(*) AS n FROM cases c
    WHERE c.tenant_id = a.tenant_id AND (
        (c.assignee_id = a.agent_id AND c.status IN @withPerson)
        OR (c.offered_to = a.agent_id AND c.status = @queued))
) load
WHERE a.tenant_id = @tenant AND a.status = 'available' AND load.n < a.capacity
  AND (a.languages = '[]'::jsonb OR a.languages @> jsonb_build_array(CAST(@language AS text)))
  AND a.agent_id NOT IN @exclude
ORDER BY load.n, a.agent_id
LIMIT 1`, map[string]any{"tenant": tenantID, "queue": queue, "language": language, "exclude": exclude,
		"withPerson": workflows.WithPerson, "queued": workflows.StatusQueued}).Scan(&ids).Error
	if err != nil {
		return "", fmt.Errorf("pick agent: %w", err)
	}
	if len(ids) == 0 {
		return "", nil
	}
	return ids[0], nil
}
