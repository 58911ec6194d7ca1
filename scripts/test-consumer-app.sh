#!/usr/bin/env bash
# Proves the package as users install it, at the other end of its peer ranges: the packed tarball in a
# fresh app with ioredis 5 and without the optional peers @nestjs/config and @nestjs/terminus. npm must
# resolve the peers without --legacy-peer-deps; the app type-checks against the shipped declarations and
# runs against a real Redis as ESM and as CommonJS. Then the Redis-facing specs run on ioredis 5.
# Needs `npm run build` first (CI runs it after `npm test`, whose pretest builds).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
work="$(mktemp -d)"
cleanup() {
  [ -f "$work/redis.pid" ] && kill "$(cat "$work/redis.pid")" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

(cd "$root" && npm pack --silent --pack-destination "$work" >/dev/null)
app="$work/app"
mkdir "$app"
cp "$root/test/compat/consumer-app.ts" "$root/test/compat/nestjs-11-commonjs-app.cjs" \
  "$root/test/compat/classic-resolution.ts" "$app/"
cd "$app"
echo '{ "name": "consumer-app", "private": true, "type": "module" }' > package.json
# --prefer-offline: the versions the repository installed are in npm's cache already.
npm install --no-audit --no-fund --prefer-offline --loglevel=error "$work"/nestjs-redis-metrics-*.tgz \
  @nestjs/common@^12 @nestjs/core@^12 @nestjs/platform-express@^12 prom-client@^15 \
  reflect-metadata@^0.2 rxjs@^7 ioredis@^5 @types/node@^20
node "$root/node_modules/typescript/bin/tsc" --strict --target es2022 --module nodenext \
  --moduleResolution nodenext --experimentalDecorators --emitDecoratorMetadata --skipLibCheck \
  --types node consumer-app.ts
# The subpaths' types on the resolution that ignores `exports` (typesVersions); the optional peers they
# import are not installed here, which skipLibCheck lets pass.
node "$root/node_modules/typescript/bin/tsc" --strict --target es2021 --module commonjs \
  --moduleResolution node10 --ignoreDeprecations 6.0 --skipLibCheck --noEmit --types node \
  classic-resolution.ts

# A private Redis, unless REDIS_URL names one.
if [ -z "${REDIS_URL:-}" ]; then
  port=$(node -e "const s=require('net').createServer().listen(0,'127.0.0.1',()=>{console.log(s.address().port);s.close()})")
  redis-server --port "$port" --bind 127.0.0.1 --save "" --appendonly no --daemonize yes \
    --pidfile "$work/redis.pid" >/dev/null
  export REDIS_URL="redis://127.0.0.1:$port"
  for _ in $(seq 50); do redis-cli -p "$port" ping >/dev/null 2>&1 && break; sleep 0.1; done
fi
node consumer-app.js
node nestjs-11-commonjs-app.cjs

cd "$root"
IOREDIS_DIR="$app/node_modules/ioredis" node --experimental-vm-modules node_modules/jest/bin/jest.js \
  --config scripts/jest.ioredis-5.config.js test/storage test/nest/module.spec.ts test/nest/lifecycle.spec.ts
