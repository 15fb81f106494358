CREATE TABLE `interaction_authorizations` (
	`id` text PRIMARY KEY NOT NULL,
	`kind` text NOT NULL,
	`request_uri` text NOT NULL,
	`account_id` text NOT NULL,
	`status_id` text NOT NULL,
	`interacting_object` text NOT NULL,
	`created_at` integer NOT NULL,
	FOREIGN KEY (`account_id`) REFERENCES `accounts`(`id`) ON UPDATE no action ON DELETE cascade,
	FOREIGN KEY (`status_id`) REFERENCES `statuses`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE UNIQUE INDEX `interaction_authorizations_request_uri_unique` ON `interaction_authorizations` (`request_uri`);--> statement-breakpoint
CREATE INDEX `interaction_authorizations_status` ON `interaction_authorizations` (`status_id`);--> statement-breakpoint
CREATE TABLE `interaction_policies` (
	`status_id` text PRIMARY KEY NOT NULL,
	`policy` text NOT NULL,
	FOREIGN KEY (`status_id`) REFERENCES `statuses`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE TABLE `reactions` (
	`id` text PRIMARY KEY NOT NULL,
	`account_id` text NOT NULL,
	`status_id` text NOT NULL,
	`name` text NOT NULL,
	`url` text,
	`uri` text NOT NULL,
	`created_at` integer NOT NULL,
	FOREIGN KEY (`account_id`) REFERENCES `accounts`(`id`) ON UPDATE no action ON DELETE cascade,
	FOREIGN KEY (`status_id`) REFERENCES `statuses`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE UNIQUE INDEX `reactions_uri_unique` ON `reactions` (`uri`);--> statement-breakpoint
CREATE UNIQUE INDEX `reactions_triple` ON `reactions` (`account_id`,`status_id`,`name`);--> statement-breakpoint
CREATE INDEX `reactions_status` ON `reactions` (`status_id`,`id`);