CREATE TABLE `api_token_keys` (
	`kid` text PRIMARY KEY NOT NULL,
	`seq` integer NOT NULL,
	`status` text NOT NULL,
	`public_jwk` text NOT NULL,
	`encrypted_key` text NOT NULL,
	`created_at` integer NOT NULL,
	`retired_at` integer,
	`verify_until` integer
);
--> statement-breakpoint
CREATE UNIQUE INDEX `api_token_keys_seq_unique` ON `api_token_keys` (`seq`);--> statement-breakpoint
CREATE TABLE `renewal_nonces` (
	`nonce_hash` text PRIMARY KEY NOT NULL,
	`spiffe_id` text NOT NULL,
	`created_at` integer NOT NULL,
	`expires_at` integer NOT NULL,
	`used_at` integer
);
--> statement-breakpoint
CREATE INDEX `renewal_nonces_node` ON `renewal_nonces` (`spiffe_id`);--> statement-breakpoint
CREATE INDEX `renewal_nonces_expires` ON `renewal_nonces` (`expires_at`);