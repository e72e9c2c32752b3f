# check-include-edges.cmake — the module dependency order, checked on #include lines.
#
# Run as: cmake -DVIGIL_SOURCE_DIR=<repo> -P cmake/check-include-edges.cmake
#
# Modules are listed from the bottom of the stack up (CONTRIBUTING.md, DESIGN.md): a file in
# src/<m>/ may include "<n>/..." only when <n> comes before <m> in this list (or is <m>). A
# folder under src/ that is not listed is reported but not failed, so a new module can land
# before this list is updated.
set(VIGIL_MODULES core metrics track expo collect health events tsdb promql rules remote http runtime)

if(NOT VIGIL_SOURCE_DIR)
  get_filename_component(VIGIL_SOURCE_DIR "${CMAKE_CURRENT_LIST_DIR}/.." ABSOLUTE)
endif()

file(GLOB files RELATIVE "${VIGIL_SOURCE_DIR}/src"
  "${VIGIL_SOURCE_DIR}/src/*/*.c" "${VIGIL_SOURCE_DIR}/src/*/*.h")
list(SORT files)
set(violations 0)
set(unknown "")
foreach(rel IN LISTS files)
  string(REGEX MATCH "^[^/]+" mod "${rel}")
  list(FIND VIGIL_MODULES "${mod}" mod_rank)
  if(mod_rank LESS 0)
    list(APPEND unknown "${mod}")
    continue()
  endif()
  file(STRINGS "${VIGIL_SOURCE_DIR}/src/${rel}" lines REGEX "^[ \t]*#[ \t]*include[ \t]*\"")
  foreach(line IN LISTS lines)
    if(NOT line MATCHES "\"([^\"/]+)/[^\"]*\"")
      continue() # same-folder include ("core_int.h") or a public "vigil/..." header
    endif()
    set(dep "${CMAKE_MATCH_1}")
    list(FIND VIGIL_MODULES "${dep}" dep_rank)
    if(dep_rank GREATER mod_rank)
      message("src/${rel}: ${mod} must not include ${dep} (${dep} comes after ${mod}): ${line}")
      math(EXPR violations "${violations} + 1")
    endif()
  endforeach()
endforeach()

if(unknown)
  list(REMOVE_DUPLICATES unknown)
  message("note: src/ folders not in the module map (cmake/check-include-edges.cmake): ${unknown}")
endif()
if(violations GREATER 0)
  message(FATAL_ERROR "${violations} #include line(s) point up the module order")
endif()
list(LENGTH files n)
message("include edges: ${n} files follow the module order")
