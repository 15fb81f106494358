-- Keep the local account's statuses, followers and following counts in its `accounts` row, so that rendering
-- the account (on every status in a timeline) never counts rows. Remote accounts keep the counts their server
-- reports; these triggers touch only accounts with no domain.
UPDATE `accounts` SET
  `statuses_count` = (SELECT count(*) FROM `statuses` s WHERE s.`account_id` = `accounts`.`id` AND s.`local` = 1 AND s.`reblog_of_id` IS NULL AND s.`deleted_at` IS NULL),
  `followers_count` = (SELECT count(*) FROM `follows` f WHERE f.`following_id` = `accounts`.`id` AND f.`state` = 'accepted'),
  `following_count` = (SELECT count(*) FROM `follows` f WHERE f.`follower_id` = `accounts`.`id` AND f.`state` = 'accepted')
WHERE `domain` IS NULL;
--> statement-breakpoint
CREATE TRIGGER `local_status_created` AFTER INSERT ON `statuses`
WHEN NEW.`local` = 1 AND NEW.`reblog_of_id` IS NULL AND NEW.`deleted_at` IS NULL
BEGIN
  UPDATE `accounts` SET `statuses_count` = `statuses_count` + 1, `last_status_at` = NEW.`created_at` WHERE `id` = NEW.`account_id`;
END;
--> statement-breakpoint
CREATE TRIGGER `local_status_tombstoned` AFTER UPDATE OF `deleted_at` ON `statuses`
WHEN NEW.`local` = 1 AND NEW.`reblog_of_id` IS NULL AND OLD.`deleted_at` IS NULL AND NEW.`deleted_at` IS NOT NULL
BEGIN
  UPDATE `accounts` SET `statuses_count` = max(0, `statuses_count` - 1) WHERE `id` = NEW.`account_id`;
END;
--> statement-breakpoint
CREATE TRIGGER `local_status_removed` AFTER DELETE ON `statuses`
WHEN OLD.`local` = 1 AND OLD.`reblog_of_id` IS NULL AND OLD.`deleted_at` IS NULL
BEGIN
  UPDATE `accounts` SET `statuses_count` = max(0, `statuses_count` - 1) WHERE `id` = OLD.`account_id`;
END;
--> statement-breakpoint
CREATE TRIGGER `follow_accepted_on_insert` AFTER INSERT ON `follows`
WHEN NEW.`state` = 'accepted'
BEGIN
  UPDATE `accounts` SET `following_count` = `following_count` + 1 WHERE `id` = NEW.`follower_id` AND `domain` IS NULL;
  UPDATE `accounts` SET `followers_count` = `followers_count` + 1 WHERE `id` = NEW.`following_id` AND `domain` IS NULL;
END;
--> statement-breakpoint
CREATE TRIGGER `follow_accepted_on_update` AFTER UPDATE OF `state` ON `follows`
WHEN OLD.`state` <> 'accepted' AND NEW.`state` = 'accepted'
BEGIN
  UPDATE `accounts` SET `following_count` = `following_count` + 1 WHERE `id` = NEW.`follower_id` AND `domain` IS NULL;
  UPDATE `accounts` SET `followers_count` = `followers_count` + 1 WHERE `id` = NEW.`following_id` AND `domain` IS NULL;
END;
--> statement-breakpoint
CREATE TRIGGER `follow_ended` AFTER DELETE ON `follows`
WHEN OLD.`state` = 'accepted'
BEGIN
  UPDATE `accounts` SET `following_count` = max(0, `following_count` - 1) WHERE `id` = OLD.`follower_id` AND `domain` IS NULL;
  UPDATE `accounts` SET `followers_count` = max(0, `followers_count` - 1) WHERE `id` = OLD.`following_id` AND `domain` IS NULL;
END;
