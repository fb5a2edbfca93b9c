// Prisma CLI configuration. Prisma 6.19's WebAssembly schema engine ("js" engine) with the
// pg driver adapter needs no native binary download (see ../../../shared/TOOLCHAIN.md).
import path from "node:path";
import { PrismaPg } from "@prisma/adapter-pg";
import { defineConfig } from "prisma/config";

function discreteFields(url: string) {
  // Discrete fields, not a connectionString: with a connection string the shadow database
  // silently becomes the real one (TOOLCHAIN.md).
  const u = new URL(url);
  return {
    host: u.hostname,
    port: Number(u.port || 5432),
    user: decodeURIComponent(u.username || "postgres"),
    password: decodeURIComponent(u.password),
    database: decodeURIComponent(u.pathname.slice(1) || "postgres"),
  };
}

export default defineConfig({
  experimental: { adapter: true },
  engine: "js",
  schema: path.join("prisma", "schema.prisma"),
  migrations: { path: path.join("prisma", "migrations") },
  async adapter() {
    const url = process.env.DATABASE_URL ?? "postgresql://postgres:postgres@127.0.0.1:5432/capy";
    return new PrismaPg(discreteFields(url));
  },
});
