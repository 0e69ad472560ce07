# The two commands: `make run` and `make test`. Everything they need is
# ensured by .ci/stack.sh (PostgreSQL, the pinned Temporal CLI and its dev server).

.PHONY: run test test-unit test-faults lint up down reset build bench histories

run: ## start PostgreSQL + Temporal, migrate, seed, run API and worker (Ctrl-C stops)
	@bash .ci/stack.sh run

test: ## start the services, lint (vet, staticcheck, workflowcheck), go test -race ./... against them, then the fault tests
	@bash .ci/stack.sh test

test-unit: ## the fast tier: every test that needs neither PostgreSQL nor Temporal, in seconds
	go test -short -count=1 ./...

test-faults: ## kill and restart tandem, Temporal and PostgreSQL (processes of the tests' own) under load, and check nothing acknowledged is lost
	@bash .ci/stack.sh faults

lint: ## go vet, staticcheck and workflowcheck
	@bash .ci/stack.sh lint

up: ## start only the services (left running)
	@bash .ci/stack.sh up

down: ## stop the services `make up` started
	@bash .ci/stack.sh down

reset: ## drop the development database tandem and this checkout's Temporal dev data (asks first; FORCE=1 does not)
	@bash .ci/stack.sh reset

build: ## build bin/tandem
	go build -o .data/bin/tandem ./cmd/tandem

BENCH_ARGS ?= -n 400 -c 20
bench: ## benchmark against the stack `make run` is serving (BENCH_ARGS, e.g. "-n 400 -c 20 -webhooks")
	@bash .ci/stack.sh bench $(BENCH_ARGS)

# The tests that record the newest paths. Histories of older paths stay as
# they are: they prove that runs started under old code still replay.
HISTORY_TESTS ?= TestLongCaseContinuesAsNew|TestAIResolvesTheCase|TestAngryCustomerEscalates|TestSLABreachEscalates|TestRefundSagaOnTheRealStack|TestRefundPaymentFailsAndIsCompensated|TestRefundAppealOverHTTP|TestWebhooksDeliverACaseInOrder|TestRefundInAnUnlistedCurrencyHandsTheCaseOver|TestRefundGoesOnPastALostTasksRecord|TestRefundWhosePaymentIsUnknownIsParkedNotReversed|TestKeyedUpdatesAreRememberedByTime|TestStaffNotes|TestCaseFields|TestRulesRouteByAField|TestRulesTagAndSetFields|TestNotesInTheAIsContext|TestAttachments|TestMacros|TestBulkCloseSurvivesAWorkerRestart|TestBulkCancelAndSetFields|TestMergeDuplicates

histories: ## record workflows/testdata/ histories of HISTORY_TESTS from the real server (after a deliberate, versioned change)
	@bash .ci/stack.sh up
	TANDEM_RECORD_HISTORIES=1 go test -count=1 -run '$(HISTORY_TESTS)' ./api/
