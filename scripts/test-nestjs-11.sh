#!/usr/bin/env bash
# Proves the NestJS 11 half of the peer range: runs the whole test suite with NestJS 11 installed in
# place of 12, then a CommonJS NestJS 11 app that requires the CommonJS build. Works in a copy of the
# repository so the developer's node_modules keep NestJS 12.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

git -C "$root" ls-files -z | (cd "$root" && xargs -0 cp --parents -t "$work")
cp -a "$root/node_modules" "$work/node_modules"
cd "$work"
npm install --no-save --no-audit --no-fund \
  @nestjs/common@11 @nestjs/core@11 @nestjs/testing@11 @nestjs/platform-express@11 \
  @nestjs/platform-fastify@11 @nestjs/config@4 \
  >/dev/null
echo "Testing against NestJS $(node -p "require('@nestjs/core/package.json').version")"
npm test
# A private Redis for the CommonJS app, unless REDIS_URL names one.
if [ -z "${REDIS_URL:-}" ]; then
  port=$(node -e "const s=require('net').createServer().listen(0,'127.0.0.1',()=>{console.log(s.address().port);s.close()})")
  redis-server --port "$port" --bind 127.0.0.1 --save "" --appendonly no --daemonize yes --pidfile "$work/redis.pid" >/dev/null
  trap 'kill "$(cat "$work/redis.pid")" 2>/dev/null; rm -rf "$work"' EXIT
  export REDIS_URL="redis://127.0.0.1:$port"
  sleep 0.2
fi
node test/compat/nestjs-11-commonjs-app.cjs
