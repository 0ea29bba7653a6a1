use super::*;

fn loads(own: u64, helpers: &[u64]) -> Loads {
    Loads {
        own,
        helpers: helpers.to_vec(),
    }
}

#[test]
fn one_of_two_busy_processes_moves_to_the_idle_helper() {
    let l = loads(2000, &[0]);
    assert_eq!(choose(&l, &[(10, 1000), (11, 1000)]), Some((10, 0)));
}

#[test]
fn a_lone_busy_process_stays() {
    // Moving it would only change tracer.
    assert_eq!(choose(&loads(2000, &[0]), &[(10, 2000)]), None);
    // Nor when the rest of the main tracer's load is small.
    assert_eq!(
        choose(&loads(2000, &[0]), &[(10, 1900), (11, 100)]),
        Some((11, 0))
    );
}

#[test]
fn balanced_tracers_trade_nothing() {
    // After a move: each tracer one busy process.
    assert_eq!(choose(&loads(1000, &[1000]), &[(10, 1000)]), None);
    // Nearly balanced: the gap is less than the process.
    assert_eq!(
        choose(&loads(1500, &[1000]), &[(10, 500), (11, 1000)]),
        None
    );
}

#[test]
fn the_least_loaded_helper_is_chosen() {
    let l = loads(3000, &[2000, 0, 500]);
    assert_eq!(
        choose(&l, &[(10, 1000), (11, 1000), (12, 1000)]),
        Some((10, 1))
    );
}

#[test]
fn the_process_that_evens_the_loads_best_moves() {
    let l = loads(3000, &[0]);
    // 2500 is not under 80% of the gap; of the rest, 2000 leaves the
    // busier tracer at 2000 (700: 2300, 300: 2700).
    assert_eq!(
        choose(&l, &[(13, 2500), (11, 300), (10, 2000), (12, 700)]),
        Some((10, 0))
    );
}

#[test]
fn an_idle_main_tracer_moves_nothing() {
    assert_eq!(
        choose(&loads(MIN_LOAD - 1, &[0]), &[(10, 200), (11, 200)]),
        None
    );
    // No helper, no candidate.
    assert_eq!(choose(&loads(5000, &[]), &[(10, 2500), (11, 2500)]), None);
    assert_eq!(choose(&loads(5000, &[0]), &[]), None);
}

#[test]
fn a_window_rolls_only_after_its_time() {
    let mut w = Window::new(100, vec![50]);
    assert_eq!(w.roll(200, vec![60]), None);
    std::thread::sleep(WINDOW);
    assert_eq!(w.roll(300, vec![80]), Some(loads(200, &[30])));
    // A helper started later than the window counts from zero.
    let mut w = Window::new(0, vec![]);
    std::thread::sleep(WINDOW);
    assert_eq!(w.roll(10, vec![7]), Some(loads(10, &[7])));
}

#[test]
fn a_quiet_process_is_not_moved() {
    // The main tracer busy with one process, another nearly idle.
    assert_eq!(
        choose(&loads(2000, &[0]), &[(10, 1950), (11, MIN_MOVE - 1)]),
        None
    );
}

#[test]
fn eager_windows_move_the_busiest_process_whatever_the_loads() {
    let mut w = Window::new(0, vec![0, 0]);
    w.eager = true;
    assert_eq!(w.every(), EAGER_EVERY);
    // No time to wait, loads ignored, helpers in turn.
    let l = w
        .roll(3, vec![500, 500])
        .expect("eager windows roll at once");
    assert_eq!(w.choose(&l, &[(10, 1), (11, 2)]), Some((11, 1)));
    assert_eq!(w.choose(&l, &[(10, 1)]), Some((10, 0)));
    // A process that made no stop is not chosen.
    assert_eq!(w.choose(&l, &[(10, 0)]), None);
    let mut plain = Window::new(0, vec![0]);
    assert_eq!(plain.every(), EVERY);
    assert_eq!(plain.choose(&l, &[(10, 1), (11, 2)]), None);
}

#[test]
fn a_thread_moves_only_when_chosen_two_windows_in_a_row() {
    let mut w = Window::new(0, vec![0]);
    let two_busy = loads(2000, &[0]);
    // A parent's start-up beside a busy child: one window, no move.
    assert_eq!(w.choose(&loads(600, &[0]), &[(10, 450)]), None);
    // The child alone next: it never moves.
    assert_eq!(w.choose(&loads(2000, &[0]), &[(10, 2000)]), None);
    // Two busy ones: the second window in a row moves one, then the
    // count starts again.
    assert_eq!(w.choose(&two_busy, &[(10, 1000), (11, 1000)]), None);
    assert_eq!(
        w.choose(&two_busy, &[(10, 1000), (11, 1000)]),
        Some((10, 0))
    );
    assert_eq!(w.choose(&two_busy, &[(11, 1000), (12, 1000)]), None);
    // A different choice each window moves nothing.
    let mut w = Window::new(0, vec![0]);
    assert_eq!(w.choose(&two_busy, &[(10, 1000), (11, 1000)]), None);
    assert_eq!(w.choose(&two_busy, &[(12, 1000), (11, 1000)]), None);
}
