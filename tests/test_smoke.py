from assertions import assert_matches_redis, assert_telemetry_matches, random_hashes


def test_all_written(harness, redis_server, admin):
    hashes = random_hashes(10)
    result = harness.blacklist(redis_server, hashes + hashes[:3], 60)
    assert result.ok and result.requested == 10
    assert_matches_redis(result, hashes, admin)
    assert_telemetry_matches(harness.capture, result)
