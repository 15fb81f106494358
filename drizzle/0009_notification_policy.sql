CREATE TABLE `notification_permissions` (
	`from_account_id` text PRIMARY KEY NOT NULL,
	`created_at` integer NOT NULL,
	FOREIGN KEY (`from_account_id`) REFERENCES `accounts`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE TABLE `notification_policy` (
	`account_id` text PRIMARY KEY NOT NULL,
	`for_not_following` text DEFAULT 'accept' NOT NULL,
	`for_not_followers` text DEFAULT 'accept' NOT NULL,
	`for_new_accounts` text DEFAULT 'accept' NOT NULL,
	`for_private_mentions` text DEFAULT 'accept' NOT NULL,
	`for_limited_accounts` text DEFAULT 'accept' NOT NULL,
	`updated_at` integer NOT NULL,
	FOREIGN KEY (`account_id`) REFERENCES `accounts`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE TABLE `notification_requests` (
	`id` text PRIMARY KEY NOT NULL,
	`from_account_id` text NOT NULL,
	`last_status_id` text,
	`created_at` integer NOT NULL,
	`updated_at` integer NOT NULL,
	FOREIGN KEY (`from_account_id`) REFERENCES `accounts`(`id`) ON UPDATE no action ON DELETE cascade,
	FOREIGN KEY (`last_status_id`) REFERENCES `statuses`(`id`) ON UPDATE no action ON DELETE set null
);
--> statement-breakpoint
CREATE UNIQUE INDEX `notification_requests_from_account_id_unique` ON `notification_requests` (`from_account_id`);--> statement-breakpoint
ALTER TABLE `notifications` ADD `filtered` integer DEFAULT false NOT NULL;--> statement-breakpoint
CREATE INDEX `notifications_group` ON `notifications` (`group_key`,`id`);