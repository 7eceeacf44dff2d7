//! The ephemeral state on PostgreSQL: bursts of attempts, the GCRA rule step by step, and the
//! purge of what has expired.

use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parallel_codes_for_one_address_all_stay_active() {
    let (db, s) = fresh().await;
    let email = testkit::unique_email("burst");
    let now = SystemClock.now();
    let attempts: Vec<_> = (0..testkit::PARALLEL)
        .map(|_| testkit::sample_attempt(&email, Purpose::Login, Subject::Decoy, now).0)
        .collect();
    let creators: Vec<_> = attempts
        .iter()
        .cloned()
        .map(|a| {
            let s = s.clone();
            tokio::spawn(async move { AttemptStore::create(&s, &a, None).await })
        })
        .collect();
    for creator in creators {
        creator
            .await
            .unwrap()
            .expect("parallel codes for one address all succeed");
    }
    for a in &attempts {
        assert_eq!(
            AttemptStore::get(&s, &a.id).await.unwrap().unwrap().state,
            AttemptState::Active,
            "one client's code never supersedes another's"
        );
    }
    let mut conn = raw(&db).await;
    assert_eq!(
        count(
            &mut conn,
            "SELECT count(*) FROM attempts WHERE state = 'active'"
        )
        .await,
        i64::try_from(testkit::PARALLEL).unwrap()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acquire_follows_the_core_gcra_rule_step_by_step() {
    let (_db, s) = fresh().await;
    let t0 = SystemClock.now().as_millis();
    // A small deterministic generator: the same sequence on every run.
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    let mut next = |n: u64| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed % n
    };
    let mut quotas: Vec<Quota> = (0..8)
        .map(|_| Quota::new(1 + next(5) as u32, Duration::from_millis(1 + next(120_000))))
        .collect();
    // The edges: an interval rounded up to 1 µs, and sums that only saturation keeps in range.
    quotas.push(Quota::new(u32::MAX, Duration::from_millis(1)));
    quotas.push(Quota::new(1, Duration::MAX));
    quotas.push(Quota::new(3, Duration::MAX));
    for (round, quota) in quotas.into_iter().enumerate() {
        let key = format!("gcra-rule-{round}");
        let mut tat = None;
        let mut t = t0;
        for step in 0..40 {
            t += i64::try_from(next(
                (quota.interval_us() / 1000).clamp(1, 1_000_000) as u64 * 2,
            ))
            .unwrap();
            let now = Timestamp::from_millis(t);
            let (expected, state) = gcra(tat, now, quota);
            if let Some(st) = state {
                tat = Some(st.tat);
            }
            let got = s.acquire(&key, quota, now).await.unwrap();
            assert_eq!(
                got, expected,
                "round {round} ({quota:?}) step {step}: PostgreSQL and auth_core::rate::gcra agree"
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn purging_forgets_only_what_no_longer_matters() {
    let (db, s) = fresh().await;
    let t0 = SystemClock.now();
    let minute = Duration::from_secs(60);
    let q = Quota::new(1, minute);
    assert!(s.acquire("short", q, t0).await.unwrap().is_allowed());
    assert!(
        s.acquire("long", Quota::new(1, minute * 10), t0)
            .await
            .unwrap()
            .is_allowed()
    );
    s.record_failure("f-short", t0, minute).await.unwrap();
    s.record_failure("f-long", t0, minute * 10).await.unwrap();
    let (old, _) = testkit::sample_attempt(
        &testkit::unique_email("old"),
        Purpose::Login,
        Subject::Decoy,
        t0,
    );
    let (young, _) = testkit::sample_attempt(
        &testkit::unique_email("young"),
        Purpose::Login,
        Subject::Decoy,
        t0.plus(ATTEMPT_GRACE),
    );
    AttemptStore::create(&s, &old, None).await.unwrap();
    AttemptStore::create(&s, &young, None).await.unwrap();

    // Two minutes on, the short limit and the short window are dead; nothing a port answers
    // changes by purging them.
    let t2 = t0.plus(minute * 2);
    let failures_before = (
        s.failures("f-short", t2).await.unwrap(),
        s.failures("f-long", t2).await.unwrap(),
    );
    assert_eq!(s.purge_expired(t2).await.unwrap(), 2);
    assert_eq!(
        (
            s.failures("f-short", t2).await.unwrap(),
            s.failures("f-long", t2).await.unwrap(),
        ),
        failures_before,
        "purging changes no answer"
    );
    assert_eq!(
        s.acquire("long", Quota::new(1, minute * 10), t2)
            .await
            .unwrap(),
        RateDecision::Limited {
            retry_after: minute * 8
        },
        "a live limit stays"
    );
    assert!(
        s.acquire("short", q, t2).await.unwrap().is_allowed(),
        "a purged limit is as good as a spent one"
    );

    // Past the old attempt's grace: it goes, with the long limit and window.
    let later = old
        .expires_at
        .plus(ATTEMPT_GRACE)
        .plus(Duration::from_millis(1));
    assert_eq!(s.purge_expired(later).await.unwrap(), 4);
    assert_eq!(
        AttemptStore::get(&s, &old.id).await.unwrap(),
        None,
        "an attempt past its grace is gone"
    );
    assert!(
        AttemptStore::get(&s, &young.id).await.unwrap().is_some(),
        "a younger one stays"
    );
    let mut conn = raw(&db).await;
    assert_eq!(
        count(&mut conn, "SELECT count(*) FROM rate_limits_us").await,
        0,
        "no limit is left"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn purging_removes_ceremonies_that_expired_untaken() {
    let (db, s) = fresh().await;
    let t0 = SystemClock.now();
    let (gone, kept) = (CeremonyId::random(&OsRng), CeremonyId::random(&OsRng));
    s.put(&gone, b"abandoned", t0, Duration::from_millis(1))
        .await
        .unwrap();
    s.put(&kept, b"in progress", t0, Duration::from_secs(60))
        .await
        .unwrap();
    // Ceremonies go by the caller's clock, like everything else.
    let later = t0.plus(Duration::from_secs(1));
    assert_eq!(
        s.purge_expired(later).await.unwrap(),
        1,
        "only the expired ceremony goes"
    );
    let mut conn = raw(&db).await;
    assert_eq!(count(&mut conn, "SELECT count(*) FROM ceremonies").await, 1);
    assert_eq!(
        s.take(&kept, later).await.unwrap().as_deref(),
        Some(&b"in progress"[..]),
        "a live ceremony survives the purge"
    );
}
