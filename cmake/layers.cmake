# layers.cmake - the module dependency order, enforced at configure time.
#
#   common (+ gen/, the protoc-c output)  <-  energy_agents
#   common  <-  transport  <-  worker  <-  coordinator
#   common  <-  net (libuv helpers)  <-  coordinator, energy_agents
#
# A module may include headers only from the modules it depends on
# (ARCHITECTURE.md draws the same order). common/ never includes mpi.h or
# uv.h, so the agent cross-builds for a board without MPI; only transport/,
# worker/ and coordinator/ include mpi.h; only net/, coordinator/ and
# energy_agents/ include uv.h. A violation stops the configure step with
# the file, the line and the rule it breaks.

set(ROVE_LAYER_common "common;gen")
set(ROVE_LAYER_energy_agents "common;gen;net;energy_agents")
set(ROVE_LAYER_net "common;gen;net")
set(ROVE_LAYER_transport "common;gen;transport")
set(ROVE_LAYER_worker "common;gen;transport;worker")
set(ROVE_LAYER_coordinator "common;gen;transport;worker;net;coordinator")
set(ROVE_LAYER_MPI "transport;worker;coordinator")
set(ROVE_LAYER_UV "net;coordinator;energy_agents")

function(rove_check_layers)
  set(bad "")
  foreach(mod common net energy_agents transport worker coordinator)
    file(GLOB_RECURSE files CONFIGURE_DEPENDS
      ${CMAKE_SOURCE_DIR}/${mod}/*.c ${CMAKE_SOURCE_DIR}/${mod}/*.h)
    foreach(f ${files})
      file(STRINGS ${f} lines REGEX "^[ \t]*#[ \t]*include[ \t]*[\"<]")
      file(RELATIVE_PATH rel ${CMAKE_SOURCE_DIR} ${f})
      foreach(line ${lines})
        if(line MATCHES "#[ \t]*include[ \t]*\"([a-z_]+)/")
          set(dep ${CMAKE_MATCH_1})
          list(FIND ROVE_LAYER_${mod} ${dep} ok)
          if(ok EQUAL -1)
            string(APPEND bad "\n  ${rel}: '${line}': ${mod}/ may not depend on ${dep}/ (allowed: ${ROVE_LAYER_${mod}})")
          endif()
        elseif(line MATCHES "<mpi\\.h>")
          list(FIND ROVE_LAYER_MPI ${mod} ok)
          if(ok EQUAL -1)
            string(APPEND bad "\n  ${rel}: includes mpi.h; only ${ROVE_LAYER_MPI} may")
          endif()
        elseif(line MATCHES "<uv\\.h>")
          list(FIND ROVE_LAYER_UV ${mod} ok)
          if(ok EQUAL -1)
            string(APPEND bad "\n  ${rel}: includes uv.h; only ${ROVE_LAYER_UV} may")
          endif()
        endif()
      endforeach()
    endforeach()
  endforeach()
  if(bad)
    message(FATAL_ERROR "module dependency order broken (cmake/layers.cmake):${bad}")
  endif()
endfunction()
