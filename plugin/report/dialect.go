package report

// dialect holds the SQL that differs between SQLite and MySQL.
type dialect struct {
	// day is the UTC day (YYYY-MM-DD) of a timestamp column. SQLite keeps
	// times as text beginning with the day; MySQL as DATETIME(6).
	day func(col string) string
	// jsonText is the string at a JSON path of a text column, unquoted;
	// NULL where the column is not JSON (a detail cut at its limit).
	jsonText func(col, path string) string
}

var sqliteDialect = dialect{
	day: func(col string) string { return "substr(" + col + ", 1, 10)" },
	jsonText: func(col, path string) string {
		return "CASE WHEN json_valid(" + col + ") THEN json_extract(" + col + ", '" + path + "') END"
	},
}

var mysqlDialect = dialect{
	day: func(col string) string { return "DATE_FORMAT(" + col + ", '%Y-%m-%d')" },
	jsonText: func(col, path string) string {
		return "CASE WHEN JSON_VALID(" + col + ") THEN JSON_UNQUOTE(JSON_EXTRACT(" + col + ", '" + path + "')) END"
	},
}
