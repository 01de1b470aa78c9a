package calendar

import (
	"time"

	"github.com/spx-archive/spx/pkg/spx"
)

// oneOffClosures are the full-day closures of 2000–2030 that no rule
// produces. Sources: the NYSE's record of market closings and its notices at
// the time; Cboe, where SPX options trade, closed on the same days.
var oneOffClosures = []Holiday{
	// NYSE did not open after the attacks of 2001-09-11 and reopened Monday
	// 2001-09-17.
	{spx.NewDate(2001, time.September, 11), "September 11 attacks"},
	{spx.NewDate(2001, time.September, 12), "September 11 attacks"},
	{spx.NewDate(2001, time.September, 13), "September 11 attacks"},
	{spx.NewDate(2001, time.September, 14), "September 11 attacks"},
	// NYSE notice of 2004-06-06: closed for the national day of mourning.
	{spx.NewDate(2004, time.June, 11), "Day of mourning for President Ronald Reagan"},
	// NYSE notice of 2006-12-28: closed for the national day of mourning.
	{spx.NewDate(2007, time.January, 2), "Day of mourning for President Gerald R. Ford"},
	// NYSE notices of 2012-10-28 and 2012-10-29: closed for Hurricane Sandy.
	{spx.NewDate(2012, time.October, 29), "Hurricane Sandy"},
	{spx.NewDate(2012, time.October, 30), "Hurricane Sandy"},
	// NYSE notice of 2018-12-01: closed for the national day of mourning.
	{spx.NewDate(2018, time.December, 5), "Day of mourning for President George H. W. Bush"},
	// NYSE notice of 2024-12-30: closed for the national day of mourning.
	{spx.NewDate(2025, time.January, 9), "Day of mourning for President Jimmy Carter"},
}

// oneOffEarlyCloses are the 13:00 closes of 2000–2030 that no rule produces.
var oneOffEarlyCloses = []Holiday{
	// NYSE closed at 13:00 on Friday 2003-12-26, the day after Christmas
	// (NYSE closings record; also carried by pandas_market_calendars and
	// exchange_calendars as an ad-hoc early close).
	{spx.NewDate(2003, time.December, 26), "Day after Christmas"},
}
