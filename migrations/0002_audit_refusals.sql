CREATE TABLE `audit_refusals` (
	`minute` integer NOT NULL,
	`source` text NOT NULL,
	`code` text NOT NULL,
	`count` integer NOT NULL,
	`first_at` integer NOT NULL,
	`last_at` integer NOT NULL,
	`sample` text NOT NULL,
	PRIMARY KEY(`minute`, `source`, `code`)
);
--> statement-breakpoint
CREATE INDEX `audit_refusals_minute` ON `audit_refusals` (`minute`);