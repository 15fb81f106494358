ALTER TABLE `polls` ADD `end_notified_at` integer;--> statement-breakpoint
CREATE INDEX `polls_expires` ON `polls` (`end_notified_at`,`expires_at`);--> statement-breakpoint
-- Polls that ended before this migration are not announced after the fact.
UPDATE `polls` SET `end_notified_at` = `expires_at` WHERE `expires_at` IS NOT NULL AND `expires_at` <= CAST(strftime('%s', 'now') AS INTEGER) * 1000;
