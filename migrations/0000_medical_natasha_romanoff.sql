CREATE TABLE `attested_nodes` (
	`spiffe_id` text PRIMARY KEY NOT NULL,
	`cluster` text NOT NULL,
	`node` text NOT NULL,
	`attestation_type` text NOT NULL,
	`attested_at` integer NOT NULL,
	`last_seen_at` integer NOT NULL,
	`current_serial` text
);
--> statement-breakpoint
CREATE UNIQUE INDEX `attested_nodes_cluster_node` ON `attested_nodes` (`cluster`,`node`);--> statement-breakpoint
CREATE TABLE `audit_events` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`at` integer NOT NULL,
	`actor` text NOT NULL,
	`action` text NOT NULL,
	`target` text NOT NULL,
	`outcome` text NOT NULL,
	`detail` text
);
--> statement-breakpoint
CREATE INDEX `audit_events_at` ON `audit_events` (`at`);--> statement-breakpoint
CREATE TABLE `ca_generations` (
	`id` integer PRIMARY KEY NOT NULL,
	`status` text NOT NULL,
	`certificate_pem` text NOT NULL,
	`encrypted_key` text NOT NULL,
	`jwt_kid` text NOT NULL,
	`jwt_public_jwk` text NOT NULL,
	`encrypted_jwt_key` text NOT NULL,
	`not_after` integer NOT NULL,
	`created_at` integer NOT NULL,
	`activated_at` integer,
	`retired_at` integer,
	`publish_until` integer
);
--> statement-breakpoint
CREATE TABLE `issued_svids` (
	`serial` text PRIMARY KEY NOT NULL,
	`spiffe_id` text NOT NULL,
	`not_before` integer NOT NULL,
	`not_after` integer NOT NULL,
	`node` text NOT NULL,
	`ca_generation` integer NOT NULL,
	`issued_at` integer NOT NULL
);
--> statement-breakpoint
CREATE INDEX `issued_svids_node` ON `issued_svids` (`node`);--> statement-breakpoint
CREATE INDEX `issued_svids_generation` ON `issued_svids` (`ca_generation`);--> statement-breakpoint
CREATE TABLE `join_tokens` (
	`token_hash` text PRIMARY KEY NOT NULL,
	`cluster` text NOT NULL,
	`node` text NOT NULL,
	`created_at` integer NOT NULL,
	`expires_at` integer NOT NULL,
	`used_at` integer,
	`created_by` text NOT NULL
);
--> statement-breakpoint
CREATE TABLE `revocations` (
	`spiffe_id` text PRIMARY KEY NOT NULL,
	`reason` text NOT NULL,
	`revoked_at` integer NOT NULL,
	`revoked_by` text NOT NULL
);
--> statement-breakpoint
CREATE TABLE `workload_registrations` (
	`id` text PRIMARY KEY NOT NULL,
	`spiffe_id` text NOT NULL,
	`node_spiffe_id` text NOT NULL,
	`source` text NOT NULL,
	`source_ref` text,
	`created_at` integer NOT NULL
);
--> statement-breakpoint
CREATE UNIQUE INDEX `workload_registrations_unique` ON `workload_registrations` (`spiffe_id`,`node_spiffe_id`);--> statement-breakpoint
CREATE INDEX `workload_registrations_node` ON `workload_registrations` (`node_spiffe_id`);--> statement-breakpoint
CREATE TABLE `api_tokens` (
	`id` text PRIMARY KEY NOT NULL,
	`subject` text NOT NULL,
	`namespaces` text NOT NULL,
	`access` text NOT NULL,
	`created_at` integer NOT NULL,
	`expires_at` integer NOT NULL,
	`revoked_at` integer
);
--> statement-breakpoint
CREATE UNIQUE INDEX `api_tokens_id` ON `api_tokens` (`id`);--> statement-breakpoint
CREATE TABLE `proxy_status` (
	`node_spiffe_id` text PRIMARY KEY NOT NULL,
	`applied_version` integer NOT NULL,
	`applied_hash` text NOT NULL,
	`reported_at` integer NOT NULL,
	`detail` text
);
--> statement-breakpoint
CREATE TABLE `resources` (
	`kind` text NOT NULL,
	`namespace` text NOT NULL,
	`name` text NOT NULL,
	`api_version` text NOT NULL,
	`uid` text NOT NULL,
	`resource_version` integer NOT NULL,
	`generation` integer NOT NULL,
	`labels` text NOT NULL,
	`annotations` text NOT NULL,
	`spec` text NOT NULL,
	`created_at` integer NOT NULL,
	`updated_at` integer NOT NULL,
	PRIMARY KEY(`kind`, `namespace`, `name`)
);
--> statement-breakpoint
CREATE INDEX `resources_kind_ns` ON `resources` (`kind`,`namespace`);--> statement-breakpoint
CREATE TABLE `revision_changes` (
	`revision` integer NOT NULL,
	`seq` integer NOT NULL,
	`kind` text NOT NULL,
	`namespace` text NOT NULL,
	`name` text NOT NULL,
	`before` text,
	`after` text,
	PRIMARY KEY(`revision`, `seq`)
);
--> statement-breakpoint
CREATE INDEX `revision_changes_resource` ON `revision_changes` (`kind`,`namespace`,`name`);--> statement-breakpoint
CREATE TABLE `revisions` (
	`id` integer PRIMARY KEY NOT NULL,
	`at` integer NOT NULL,
	`actor` text NOT NULL,
	`operation` text NOT NULL,
	`message` text
);
--> statement-breakpoint
CREATE TABLE `snapshots` (
	`target` text PRIMARY KEY NOT NULL,
	`version` integer NOT NULL,
	`revision` integer NOT NULL,
	`hash` text NOT NULL,
	`size` integer NOT NULL,
	`updated_at` integer NOT NULL
);
