CREATE TABLE `namespace_quotas` (
	`namespace` text PRIMARY KEY NOT NULL,
	`max_resources` integer NOT NULL,
	`max_bytes` integer NOT NULL,
	`updated_at` integer NOT NULL
);
--> statement-breakpoint
ALTER TABLE `snapshots` ADD `synced_revision` integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE `snapshots` ADD `error` text;--> statement-breakpoint
ALTER TABLE `snapshots` ADD `failed_revision` integer;--> statement-breakpoint
ALTER TABLE `snapshots` ADD `failures` integer DEFAULT 0 NOT NULL;