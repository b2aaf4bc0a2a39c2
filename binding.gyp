{
  "targets": [
    {
      "target_name": "dbk_fs",
      "sources": ["native/dbk_fs.c"],
      "cflags": ["-O2", "-Wall", "-Wextra", "-Wno-unused-parameter"]
    }
  ]
}
