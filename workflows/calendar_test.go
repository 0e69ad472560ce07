package workflows

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"tandem/policies/service"
)

func berlinCalendar(t *testing.T) calendar {
	t.Helper()
	c, err := newCalendar(service.BusinessHours{TimeZone: "Europe/Berlin", Weekdays: []string{"mon", "tue", "wed", "thu", "fri"},
		Open: "09:00", Close: "17:00", Holidays: []string{"2026-12-25", "2026-12-28"}})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestCalendarAdd(t *testing.T) {
	c := berlinCalendar(t)
	at := func(s string) time.Time {
		v, err := time.ParseInLocation("2006-01-02 15:04", s, c.loc)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	tests := []struct {
		name, from string
		d          time.Duration
		want       string
	}{
		{"within the day", "2026-11-24 10:00", 2 * time.Hour, "2026-11-24 12:00"},
		{"over the evening", "2026-11-24 16:00", 2 * time.Hour, "2026-11-25 10:00"},
		{"opened at night", "2026-11-24 22:00", time.Hour, "2026-11-25 10:00"},
		{"before opening", "2026-11-24 07:00", 30 * time.Minute, "2026-11-24 09:30"},
		{"over the weekend", "2026-11-27 16:00", 4 * time.Hour, "2026-11-30 12:00"},
		{"opened on Saturday", "2026-11-28 11:00", time.Hour, "2026-11-30 10:00"},
		{"exactly to closing", "2026-11-24 16:00", time.Hour, "2026-11-24 17:00"},
		{"over Christmas and the weekend", "2026-12-24 15:00", 4 * time.Hour, "2026-12-29 11:00"},
		{"a whole business week", "2026-11-23 09:00", 40 * time.Hour, "2026-11-27 17:00"},
		{"across the change to summer time", "2027-03-26 16:00", 2 * time.Hour, "2027-03-29 10:00"},
	}
	for _, tt := range tests {
		got := c.add(at(tt.from), tt.d)
		if !got.Equal(at(tt.want)) {
			t.Errorf("%s: %s + %v = %s, want %s", tt.name, tt.from, tt.d, got.In(c.loc).Format("2006-01-02 15:04"), tt.want)
		}
		if back := c.between(at(tt.from), got); back != tt.d {
			t.Errorf("%s: between(%s, %s) = %v, want %v", tt.name, tt.from, tt.want, back, tt.d)
		}
	}
	if got := c.between(at("2026-11-28 08:00"), at("2026-11-29 20:00")); got != 0 {
		t.Errorf("a weekend holds %v of business time", got)
	}
}

// A worker's deadlines come from the zone rules embedded in the binary,
// never from the host's: a worker whose system tzdata differs (here a host
// whose Europe/Paris is UTC) computes the same deadlines on replay. The
// test runs itself again in a process whose zoneinfo is that host's.
func TestCalendarIgnoresTheHostsZoneRules(t *testing.T) {
	if dir := os.Getenv("TANDEM_TEST_FAKE_ZONEINFO"); dir != "" {
		host, err := time.LoadLocation("Europe/Paris")
		if err != nil {
			t.Fatal(err)
		}
		winter := time.Date(2026, 1, 15, 12, 0, 0, 0, time.UTC)
		if _, off := winter.In(host).Zone(); off != 0 {
			t.Fatalf("the fake host zoneinfo was not used (offset %d): the test proves nothing", off)
		}
		c, err := newCalendar(service.BusinessHours{TimeZone: "Europe/Paris", Weekdays: []string{"mon"}, Open: "09:00", Close: "17:00"})
		if err != nil {
			t.Fatal(err)
		}
		if _, off := winter.In(c.loc).Zone(); off != 3600 {
			t.Fatalf("the calendar took the host's rules for Europe/Paris: offset %d s in January, want 3600", off)
		}
		return
	}
	// The fake host: Europe/Paris holds UTC's rules.
	utc, err := service.ZoneData("Etc/UTC")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "Europe"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "Europe", "Paris"), utc, 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestCalendarIgnoresTheHostsZoneRules$", "-test.count=1")
	cmd.Env = append(os.Environ(), "ZONEINFO="+dir, "TANDEM_TEST_FAKE_ZONEINFO="+dir)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("with the host's zoneinfo changed: %v\n%s", err, out)
	}
}
