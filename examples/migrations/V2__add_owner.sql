-- Who created the row: the Kerberos principal the session logged in as.
ALTER TABLE refinery_accounts ADD COLUMN owner text NOT NULL DEFAULT current_user;
