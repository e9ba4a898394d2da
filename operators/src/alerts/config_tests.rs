//! Unit tests of the alert rules' configuration.
use super::*;

#[test]
fn defaults_are_design_section_6() {
    let c = AlertConfig::default();
    assert_eq!(c.bed_return_ms, 30 * MINUTE);
    assert_eq!(c.inactivity_ms, 4 * HOUR);
    assert_eq!(c.appliance_ms, 3 * HOUR);
    assert_eq!(c.silent_ms, 30 * MINUTE);
    assert_eq!(c.battery_below_pct, 15.0);
    assert_eq!(c.appliance_above_w, 10.0);
    assert_eq!(
        c.bed_night,
        DailyWindow {
            start: 22 * HOUR,
            end: 7 * HOUR
        }
    );
    assert_eq!(
        c.door_night,
        DailyWindow {
            start: 23 * HOUR,
            end: 6 * HOUR
        }
    );
    assert_eq!(
        c.inactivity_day,
        DailyWindow {
            start: 7 * HOUR,
            end: 22 * HOUR
        }
    );
    let crit: Vec<u8> = (0..7).map(|c_| c.criticity(c_)).collect();
    assert_eq!(crit, vec![4, 5, 3, 2, 3, 3, 5]);
    assert_eq!(c.rule_name(6), "wandering");
    assert_eq!(c.combined[0].within_ms, 15 * MINUTE);
}

#[test]
fn households_from_device_ids() {
    let c = AlertConfig::default();
    assert_eq!(
        c.household_of("home-001-motion-bedroom"),
        Some(("home-001", Zone::EuropeMadrid))
    );
    assert_eq!(c.household_of("home-001"), None);
    assert_eq!(c.household_of("llamas-env-03"), None);
    let c = AlertConfig::from_toml_str(
        r#"
        [[alerts.households]]
        prefix = "home1-"
        id_parts = 1
        time_zone = "Europe/Paris"
        [[alerts.households]]
        prefix = "fujisawa-"
        id_parts = 2
        time_zone = "Asia/Tokyo"
        [alerts.time_zones]
        "fujisawa-h7" = "UTC"
        "#,
    )
    .expect("valid");
    assert_eq!(
        c.household_of("home1-motion-bedroom"),
        Some(("home1", Zone::EuropeMadrid))
    );
    assert_eq!(
        c.household_of("fujisawa-h2-bed"),
        Some(("fujisawa-h2", Zone::AsiaTokyo))
    );
    assert_eq!(
        c.household_of("fujisawa-h7-bed"),
        Some(("fujisawa-h7", Zone::Fixed(0)))
    );
}

#[test]
fn a_household_without_a_time_zone_is_a_clear_error() {
    let e = AlertConfig::from_toml_str("[[alerts.households]]\nprefix = \"casa-\"\nid_parts = 2\n")
        .expect_err("no zone");
    let text = e.to_string();
    assert!(
        text.contains("casa-") && text.contains("no time zone"),
        "{text}"
    );
    let ok = AlertConfig::from_toml_str(
        "[alerts]\ndefault_time_zone = \"Asia/Tokyo\"\n[[alerts.households]]\nprefix = \"casa-\"\nid_parts = 2\n",
    )
    .expect("default zone");
    assert_eq!(ok.households[0].zone, Zone::AsiaTokyo);
}

#[test]
fn bad_settings_are_named() {
    for (toml, needle) in [
        (
            "[alerts.inactivity]\nminutes = 1000\n",
            "longer than the day window",
        ),
        ("[alerts.inactivity]\nday = \"7-22\"\n", "HH:MM-HH:MM"),
        ("[alerts.low_battery]\ncriticity = 9\n", "criticity"),
        (
            "[alerts.door_open_night]\nnite = \"23:00-06:00\"\n",
            "unknown field",
        ),
        (
            "[alerts.device_silent.per_sensor]\nsmell = 5\n",
            "unknown sensor kind",
        ),
        (
            "[alerts]\ndefault_time_zone = \"Mars/Olympus\"\n",
            "unknown time zone",
        ),
        (
            "[[alerts.combined]]\nname = \"x\"\nall = [\"inactivity\", \"naps\"]\nwithin_minutes = 5\ncriticity = 3\n",
            "unknown rule",
        ),
    ] {
        let e = AlertConfig::from_toml_str(toml)
            .expect_err(toml)
            .to_string();
        assert!(e.contains(needle), "{toml}: {e}");
    }
}

#[test]
fn device_prefixes_select_the_watched_devices() {
    let c = AlertConfig::default();
    let door = 1 << BaseRule::DoorOpenNight.code();
    assert_eq!(c.rules_for("door") & door, door);
    assert_eq!(c.rules_for("door-entrance") & door, door);
    assert_eq!(c.rules_for("contact-fridge") & door, 0);
    assert_eq!(c.rules_for("contact-fridge") | door, 0b11_1111);
    let c = AlertConfig::from_toml_str(
        "[alerts.appliance_left_on]\ndevice_prefix = \"plug-kettle\"\n[alerts.door_open_night]\ndevice_prefix = \"\"\n[alerts.low_battery]\nenabled = false\n",
    )
    .expect("valid");
    let plug = 1 << BaseRule::ApplianceLeftOn.code();
    assert_eq!(c.rules_for("plug-tv") & plug, 0);
    assert_eq!(c.rules_for("plug-kettle") & plug, plug);
    assert_eq!(c.rules_for("contact-fridge") & door, door);
    assert_eq!(c.rules_for("x") & (1 << BaseRule::LowBattery.code()), 0);
}

#[test]
fn the_documented_configurations_parse() {
    let doc = include_str!("../../../docs/ALERTS.md");
    let example = doc
        .split("## Example configuration")
        .nth(1)
        .and_then(|s| s.split("```toml").nth(1))
        .and_then(|s| s.split("```").next())
        .expect("an example in docs/ALERTS.md");
    let c = AlertConfig::from_toml_str(example).expect("the documented example parses");
    assert_eq!(c.households.len(), 2);
    assert_eq!(
        c.household_of("home-042-bed"),
        Some(("home-042", Zone::AsiaTokyo))
    );
    assert_eq!(c.silence_limit(Some(SensorKind::PlugPower)), 1440 * MINUTE);
    assert_eq!(c.inactivity_ms, 180 * MINUTE);
    assert_eq!(c.output.as_deref(), Some("alerts.jsonl"));
    let home1 =
        AlertConfig::from_toml_str(include_str!("../../../docs/rules/homeassist_home1.toml"))
            .expect("the HomeAssist rules parse");
    assert_eq!(
        home1.household_of("home1-door-entrance"),
        Some(("home1", Zone::EuropeMadrid))
    );
    assert_eq!(home1.silent_ms, 24 * HOUR);
    let none = AlertConfig::from_toml_str("[alerts]\ncombined = []\n").expect("valid");
    assert!(none.combined.is_empty());
}

#[test]
fn daily_windows() {
    let night = DailyWindow::parse("22:00-07:00").expect("valid");
    assert!(night.contains(23 * HOUR) && night.contains(0) && !night.contains(7 * HOUR));
    assert!(!night.contains(12 * HOUR) && night.contains(22 * HOUR));
    assert_eq!(night.len_ms(), 9 * HOUR);
    let day = DailyWindow::parse("07:00-22:00").expect("valid");
    assert!(day.contains(7 * HOUR) && !day.contains(22 * HOUR));
    assert!(DailyWindow::parse("25:00-07:00").is_none());
    assert!(DailyWindow::parse("07:00-07:00").is_none());
}
