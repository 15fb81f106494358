CREATE TABLE `quotes` (
	`id` text PRIMARY KEY NOT NULL,
	`status_id` text NOT NULL,
	`account_id` text NOT NULL,
	`quoted_uri` text NOT NULL,
	`quoted_status_id` text,
	`quoted_account_id` text,
	`state` text NOT NULL,
	`legacy` integer DEFAULT false NOT NULL,
	`authorization_uri` text,
	`activity_uri` text,
	`created_at` integer NOT NULL,
	`updated_at` integer NOT NULL,
	FOREIGN KEY (`status_id`) REFERENCES `statuses`(`id`) ON UPDATE no action ON DELETE cascade,
	FOREIGN KEY (`account_id`) REFERENCES `accounts`(`id`) ON UPDATE no action ON DELETE cascade,
	FOREIGN KEY (`quoted_status_id`) REFERENCES `statuses`(`id`) ON UPDATE no action ON DELETE set null,
	FOREIGN KEY (`quoted_account_id`) REFERENCES `accounts`(`id`) ON UPDATE no action ON DELETE set null
);
--> statement-breakpoint
CREATE UNIQUE INDEX `quotes_status_id_unique` ON `quotes` (`status_id`);--> statement-breakpoint
CREATE INDEX `quotes_quoted_status` ON `quotes` (`quoted_status_id`,`id`);--> statement-breakpoint
CREATE INDEX `quotes_activity_uri` ON `quotes` (`activity_uri`);--> statement-breakpoint
CREATE INDEX `quotes_authorization_uri` ON `quotes` (`authorization_uri`);--> statement-breakpoint
ALTER TABLE `statuses` ADD `quote_policy` text;