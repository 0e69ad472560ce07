package workflows

import (
	"fmt"
	"strconv"
	"time"

	"tandem/policies/service"
)

// calendar is a tenant's business hours: SLA clocks run only inside them.
// Its arithmetic is pure (the location's rules are data embedded in the
// binary, never the host's: service.Zone), so workflow code may use it.
type calendar struct {
	loc         *time.Location
	days        [7]bool // by time.Weekday
	open, close int     // minutes after midnight
	holidays    map[string]bool
}

// maxCalendarDays bounds the search for business time: a calendar with no
// open day in ten years is treated as always open rather than looping.
const maxCalendarDays = 3660

var weekdayIndex = map[string]time.Weekday{"sun": time.Sunday, "mon": time.Monday, "tue": time.Tuesday,
	"wed": time.Wednesday, "thu": time.Thursday, "fri": time.Friday, "sat": time.Saturday}

func newCalendar(bh service.BusinessHours) (calendar, error) {
	if bh.TimeZone == "" && len(bh.Weekdays) == 0 { // no business hours: clocks always run
		return calendar{loc: time.UTC, days: [7]bool{true, true, true, true, true, true, true}, close: 24 * 60}, nil
	}
	loc, err := service.Zone(bh.TimeZone) //workflowcheck:ignore zone rules are data embedded in the binary, the same on every machine and replay
	if err != nil {
		return calendar{}, fmt.Errorf("business hours: %w", err)
	}
	c := calendar{loc: loc, holidays: map[string]bool{}}
	for _, d := range bh.Weekdays {
		c.days[weekdayIndex[d]] = true
	}
	if c.open, err = minutes(bh.Open); err == nil {
		c.close, err = minutes(bh.Close)
	}
	if err != nil {
		return calendar{}, err
	}
	for _, h := range bh.Holidays {
		c.holidays[h] = true
	}
	return c, nil
}

func minutes(hhmm string) (int, error) {
	if len(hhmm) != 5 {
		return 0, fmt.Errorf("business hours: %q is not HH:MM", hhmm)
	}
	h, err1 := strconv.Atoi(hhmm[:2])
	m, err2 := strconv.Atoi(hhmm[3:])
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("business hours: %q is not HH:MM", hhmm)
	}
	return h*60 + m, nil
}

// window returns the business hours of t's day, and whether it has any.
func (c calendar) window(t time.Time) (time.Time, time.Time, bool) {
	y, m, d := t.Date()
	if !c.days[t.Weekday()] || c.holidays[t.Format("2006-01-02")] {
		return time.Time{}, time.Time{}, false
	}
	open := time.Date(y, m, d, c.open/60, c.open%60, 0, 0, c.loc)
	closeAt := time.Date(y, m, d, c.close/60, c.close%60, 0, 0, c.loc)
	return open, closeAt, true
}

func nextMidnight(t time.Time) time.Time {
	y, m, d := t.Date()
	return time.Date(y, m, d+1, 0, 0, 0, 0, t.Location())
}

// add returns the instant at which d of business time has passed after t.
func (c calendar) add(t time.Time, d time.Duration) time.Time {
	t = t.In(c.loc)
	for range maxCalendarDays {
		if d <= 0 {
			return t
		}
		open, closeAt, ok := c.window(t)
		if !ok || !t.Before(closeAt) {
			t = nextMidnight(t)
			continue
		}
		if t.Before(open) {
			t = open
		}
		if left := closeAt.Sub(t); d <= left {
			return t.Add(d)
		} else {
			d -= left
		}
		t = nextMidnight(t)
	}
	return t.Add(d)
}

// between returns the business time from a to b (zero if b is not after a).
func (c calendar) between(a, b time.Time) time.Duration {
	a, b = a.In(c.loc), b.In(c.loc)
	var total time.Duration
	for range maxCalendarDays {
		if !a.Before(b) {
			return total
		}
		open, closeAt, ok := c.window(a)
		if ok {
			from, to := maxTime(a, open), minTime(b, closeAt)
			if to.After(from) {
				total += to.Sub(from)
			}
		}
		a = nextMidnight(a)
	}
	return total + b.Sub(a)
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}
