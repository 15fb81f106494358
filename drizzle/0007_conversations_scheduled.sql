CREATE TABLE `conversation_statuses` (
	`conversation_id` text NOT NULL,
	`status_id` text NOT NULL,
	PRIMARY KEY(`conversation_id`, `status_id`),
	FOREIGN KEY (`conversation_id`) REFERENCES `conversations`(`id`) ON UPDATE no action ON DELETE cascade,
	FOREIGN KEY (`status_id`) REFERENCES `statuses`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE INDEX `conversation_statuses_status` ON `conversation_statuses` (`status_id`);--> statement-breakpoint
CREATE TABLE `conversations` (
	`id` text PRIMARY KEY NOT NULL,
	`thread_uri` text NOT NULL,
	`last_status_id` text NOT NULL,
	`unread` integer DEFAULT false NOT NULL,
	`participant_ids` text DEFAULT '[]' NOT NULL,
	`created_at` integer NOT NULL,
	`updated_at` integer NOT NULL
);
--> statement-breakpoint
CREATE UNIQUE INDEX `conversations_thread` ON `conversations` (`thread_uri`);--> statement-breakpoint
CREATE INDEX `conversations_last` ON `conversations` (`last_status_id`);--> statement-breakpoint
CREATE TABLE `scheduled_statuses` (
	`id` text PRIMARY KEY NOT NULL,
	`scheduled_at` integer NOT NULL,
	`params` text NOT NULL,
	`media_ids` text DEFAULT '[]' NOT NULL,
	`created_at` integer NOT NULL
);
--> statement-breakpoint
CREATE INDEX `scheduled_statuses_due` ON `scheduled_statuses` (`scheduled_at`);