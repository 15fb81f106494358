CREATE TABLE `domain_blocked_accounts` (
	`account_id` text PRIMARY KEY NOT NULL,
	FOREIGN KEY (`account_id`) REFERENCES `accounts`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
-- Which accounts a domain block covers, kept here so that timelines test a row's authors by primary key. The
-- match is domainMatchesSql of src/core/visibility.ts: the same host, or a subdomain, with or without the port.
-- Domain blocks are only inserted and deleted (src/core/domain-blocks.ts); an account's domain never changes
-- after it is written, but a trigger keeps the table right if it did.
INSERT OR IGNORE INTO `domain_blocked_accounts` (`account_id`)
  SELECT a.`id` FROM `accounts` a JOIN `domain_blocks` b ON (a.`domain` = b.`domain` OR (CASE WHEN substr(a.`domain`, 1, 1) = '[' THEN substr(a.`domain`, 1, instr(a.`domain`, ']')) WHEN instr(a.`domain`, ':') > 0 THEN substr(a.`domain`, 1, instr(a.`domain`, ':') - 1) ELSE a.`domain` END) = b.`domain`
      OR substr(a.`domain`, -length(b.`domain`) - 1) = '.' || b.`domain`
      OR substr((CASE WHEN substr(a.`domain`, 1, 1) = '[' THEN substr(a.`domain`, 1, instr(a.`domain`, ']')) WHEN instr(a.`domain`, ':') > 0 THEN substr(a.`domain`, 1, instr(a.`domain`, ':') - 1) ELSE a.`domain` END), -length(b.`domain`) - 1) = '.' || b.`domain`)
  WHERE a.`domain` IS NOT NULL;
--> statement-breakpoint
CREATE TRIGGER `domain_block_added` AFTER INSERT ON `domain_blocks`
BEGIN
  INSERT OR IGNORE INTO `domain_blocked_accounts` (`account_id`)
    SELECT a.`id` FROM `accounts` a WHERE a.`domain` IS NOT NULL AND (a.`domain` = NEW.`domain` OR (CASE WHEN substr(a.`domain`, 1, 1) = '[' THEN substr(a.`domain`, 1, instr(a.`domain`, ']')) WHEN instr(a.`domain`, ':') > 0 THEN substr(a.`domain`, 1, instr(a.`domain`, ':') - 1) ELSE a.`domain` END) = NEW.`domain`
      OR substr(a.`domain`, -length(NEW.`domain`) - 1) = '.' || NEW.`domain`
      OR substr((CASE WHEN substr(a.`domain`, 1, 1) = '[' THEN substr(a.`domain`, 1, instr(a.`domain`, ']')) WHEN instr(a.`domain`, ':') > 0 THEN substr(a.`domain`, 1, instr(a.`domain`, ':') - 1) ELSE a.`domain` END), -length(NEW.`domain`) - 1) = '.' || NEW.`domain`);
END;
--> statement-breakpoint
CREATE TRIGGER `domain_block_removed` AFTER DELETE ON `domain_blocks`
BEGIN
  DELETE FROM `domain_blocked_accounts` WHERE `account_id` IN (
    SELECT a.`id` FROM `accounts` a WHERE a.`domain` IS NOT NULL AND (a.`domain` = OLD.`domain` OR (CASE WHEN substr(a.`domain`, 1, 1) = '[' THEN substr(a.`domain`, 1, instr(a.`domain`, ']')) WHEN instr(a.`domain`, ':') > 0 THEN substr(a.`domain`, 1, instr(a.`domain`, ':') - 1) ELSE a.`domain` END) = OLD.`domain`
      OR substr(a.`domain`, -length(OLD.`domain`) - 1) = '.' || OLD.`domain`
      OR substr((CASE WHEN substr(a.`domain`, 1, 1) = '[' THEN substr(a.`domain`, 1, instr(a.`domain`, ']')) WHEN instr(a.`domain`, ':') > 0 THEN substr(a.`domain`, 1, instr(a.`domain`, ':') - 1) ELSE a.`domain` END), -length(OLD.`domain`) - 1) = '.' || OLD.`domain`)
      AND NOT EXISTS (SELECT 1 FROM `domain_blocks` b WHERE (a.`domain` = b.`domain` OR (CASE WHEN substr(a.`domain`, 1, 1) = '[' THEN substr(a.`domain`, 1, instr(a.`domain`, ']')) WHEN instr(a.`domain`, ':') > 0 THEN substr(a.`domain`, 1, instr(a.`domain`, ':') - 1) ELSE a.`domain` END) = b.`domain`
      OR substr(a.`domain`, -length(b.`domain`) - 1) = '.' || b.`domain`
      OR substr((CASE WHEN substr(a.`domain`, 1, 1) = '[' THEN substr(a.`domain`, 1, instr(a.`domain`, ']')) WHEN instr(a.`domain`, ':') > 0 THEN substr(a.`domain`, 1, instr(a.`domain`, ':') - 1) ELSE a.`domain` END), -length(b.`domain`) - 1) = '.' || b.`domain`)));
END;
--> statement-breakpoint
CREATE TRIGGER `account_added_domain_blocked` AFTER INSERT ON `accounts`
WHEN NEW.`domain` IS NOT NULL
BEGIN
  INSERT OR IGNORE INTO `domain_blocked_accounts` (`account_id`)
    SELECT NEW.`id` WHERE EXISTS (SELECT 1 FROM `domain_blocks` b WHERE (NEW.`domain` = b.`domain` OR (CASE WHEN substr(NEW.`domain`, 1, 1) = '[' THEN substr(NEW.`domain`, 1, instr(NEW.`domain`, ']')) WHEN instr(NEW.`domain`, ':') > 0 THEN substr(NEW.`domain`, 1, instr(NEW.`domain`, ':') - 1) ELSE NEW.`domain` END) = b.`domain`
      OR substr(NEW.`domain`, -length(b.`domain`) - 1) = '.' || b.`domain`
      OR substr((CASE WHEN substr(NEW.`domain`, 1, 1) = '[' THEN substr(NEW.`domain`, 1, instr(NEW.`domain`, ']')) WHEN instr(NEW.`domain`, ':') > 0 THEN substr(NEW.`domain`, 1, instr(NEW.`domain`, ':') - 1) ELSE NEW.`domain` END), -length(b.`domain`) - 1) = '.' || b.`domain`));
END;
--> statement-breakpoint
CREATE TRIGGER `account_domain_changed` AFTER UPDATE OF `domain` ON `accounts`
WHEN NEW.`domain` IS NOT OLD.`domain`
BEGIN
  DELETE FROM `domain_blocked_accounts` WHERE `account_id` = NEW.`id`;
  INSERT OR IGNORE INTO `domain_blocked_accounts` (`account_id`)
    SELECT NEW.`id` WHERE NEW.`domain` IS NOT NULL
      AND EXISTS (SELECT 1 FROM `domain_blocks` b WHERE (NEW.`domain` = b.`domain` OR (CASE WHEN substr(NEW.`domain`, 1, 1) = '[' THEN substr(NEW.`domain`, 1, instr(NEW.`domain`, ']')) WHEN instr(NEW.`domain`, ':') > 0 THEN substr(NEW.`domain`, 1, instr(NEW.`domain`, ':') - 1) ELSE NEW.`domain` END) = b.`domain`
      OR substr(NEW.`domain`, -length(b.`domain`) - 1) = '.' || b.`domain`
      OR substr((CASE WHEN substr(NEW.`domain`, 1, 1) = '[' THEN substr(NEW.`domain`, 1, instr(NEW.`domain`, ']')) WHEN instr(NEW.`domain`, ':') > 0 THEN substr(NEW.`domain`, 1, instr(NEW.`domain`, ':') - 1) ELSE NEW.`domain` END), -length(b.`domain`) - 1) = '.' || b.`domain`));
END;
